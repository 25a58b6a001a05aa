#!/usr/bin/env node
// The `webhooks` bin. The CLI is TypeScript run from source, like `npm start`: register tsx's
// loader, then load it. The command is put together above the CLI and console faces, in
// local/webhooks.ts (it adds `webhooks console`). npm links this file for `npx webhooks`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../local/webhooks.ts');
await main();
