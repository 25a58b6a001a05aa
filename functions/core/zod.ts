/**
 * zod for every schema of the functions: `zod/mini`, whose functions tree-shake (the classic
 * API's methods pull all of zod into each bundle, about 75 KB more and several milliseconds of
 * every cold start), with the English messages only. Import zod from here, never from 'zod'.
 */
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

z.config(en());

export * from 'zod/mini';

/**
 * `build`'s schema, built on the first call and the same instance on every later one. Building zod
 * schemas is most of what importing a module of them costs: built at module scope, every function
 * that imports one pays for all of them at its cold start, used or not.
 */
export function builtOnce<T>(build: () => T): BuiltOnce<T> {
  let built: { readonly value: T } | undefined;
  const get = () => (built ??= { value: build() }).value;
  return Object.defineProperty(get, 'built', { get: () => built !== undefined }) as BuiltOnce<T>;
}

/** A schema built on its first call ({@link builtOnce}); `built` says whether that call has happened. */
export type BuiltOnce<T> = (() => T) & { readonly built: boolean };
