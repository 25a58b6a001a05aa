/**
 * zod for every schema of the functions: `zod/mini`, whose functions tree-shake (the classic
 * API's methods pull all of zod into each bundle, about 75 KB more and several milliseconds of
 * every cold start), with the English messages only. Import zod from here, never from 'zod'.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

z.config(en());

export * from 'zod/mini';
