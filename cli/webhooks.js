#!/usr/bin/env node
// `npm run webhooks` and `npm run send` in this repository: the `webhooks` command run from its
// TypeScript sources, like `npm start`, through tsx's loader. The installed bin is the compiled one
// (package.json `bin` → dist/bin/webhooks.js, from local/bin.ts by `npm run build`). The command is
// put together above the CLI and console faces, in local/webhooks.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../local/webhooks.ts');
await main();
