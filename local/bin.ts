// The published `webhooks` bin (package.json `bin` → dist/bin/webhooks.js), compiled by
// `npm run build` and run by plain `node`. The commands load the AWS SDK and the console server
// when they run, so that `webhooks --help` starts without them.
import module from 'node:module';

// Node ≥ 22.1 keeps the compiled code of the bin's files in its compile cache (NODE_COMPILE_CACHE,
// or node-compile-cache in the OS temporary folder; NODE_DISABLE_COMPILE_CACHE=1 turns it off), so
// that a later run skips compiling them. It applies to the modules loaded after it is enabled: the
// command is imported below, not statically. Node 20 has no compile cache and compiles every time.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const { main } = await import('./webhooks');
await main();
