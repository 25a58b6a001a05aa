import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { startFauxqs } from 'fauxqs';

export interface Emulators {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  stop(): Promise<void>;
}

export interface EmulatorPorts {
  /** 0 picks a free port (tests). */
  readonly dynamodbPort: number;
  readonly sqsPort: number;
}

/** Starts in-memory DynamoDB (dynalite) and SQS/SNS (fauxqs) on loopback. */
export async function startEmulators(ports: EmulatorPorts): Promise<Emulators> {
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    dynamo.once('error', reject);
    dynamo.listen(ports.dynamodbPort, '127.0.0.1', () => resolve());
  });
  let faux: Awaited<ReturnType<typeof startFauxqs>>;
  try {
    faux = await startFauxqs({ port: ports.sqsPort, logger: false });
  } catch (error) {
    await new Promise((resolve) => dynamo.close(resolve));
    throw error;
  }
  const dynamoPort = (dynamo.address() as AddressInfo).port;
  return {
    dynamodbEndpoint: `http://127.0.0.1:${dynamoPort}`,
    sqsEndpoint: `http://127.0.0.1:${faux.port}`,
    async stop() {
      await faux.stop();
      await new Promise((resolve) => dynamo.close(resolve));
    },
  };
}
