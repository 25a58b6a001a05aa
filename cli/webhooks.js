#!/usr/bin/env node
// The `webhooks` bin. The CLI is TypeScript run from source, like `npm start`: register tsx's
// loader, then load it. npm links this file for `npx webhooks` in the repository.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
