// The published `webhooks` bin (package.json `bin` → dist/bin/webhooks.js), compiled by
// `npm run build` and run by plain `node`. The commands load the AWS SDK and the console server
// when they run, so that `webhooks --help` starts without them.
import { main } from './webhooks';

await main();
