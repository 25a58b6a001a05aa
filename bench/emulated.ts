import { startEmulators, type Emulators } from '../local/emulators';
import { createLocalResources, type LocalResources } from '../local/resources';
import { localClients, type LocalClients } from '../local/runtime';

export interface BenchEmulators {
  readonly emulators: Emulators;
  readonly clients: LocalClients;
  readonly resources: LocalResources;
}

/** Emulators on free ports with every resource the stack creates, as `npm start` sets them up. */
export async function startBenchEmulators(): Promise<BenchEmulators> {
  const emulators = await startEmulators({ dynamodbPort: 0, sqsPort: 0 });
  try {
    const clients = localClients(emulators);
    const resources = await createLocalResources(clients);
    return { emulators, clients, resources };
  } catch (error) {
    await emulators.stop();
    throw error;
  }
}
