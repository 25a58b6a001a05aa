import { ConfigurationError } from '../functions/core/errors';
import { serveLocal } from './serve';

/** `npm start`: the receiver on local emulators. Configuration by environment; see README. */
async function main(): Promise<void> {
  await serveLocal(process.env);
  process.exit(0);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigurationError) {
    console.error(`configuration error: ${error.message}`);
  } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`a port is already in use (${(error as Error).message}); set PORT, DYNAMODB_PORT, SQS_PORT or FAKE_PROVIDERS_PORT (or LOCAL_FAKE_PROVIDERS=off)`);
  } else {
    console.error(error);
  }
  process.exit(1);
});
