import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';

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

/** Starts in-memory DynamoDB (dynalite) and SQS/SNS/S3 (fauxqs) on loopback. */
export async function startEmulators(ports: EmulatorPorts): Promise<Emulators> {
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    dynamo.once('error', reject);
    dynamo.listen(ports.dynamodbPort, '127.0.0.1', () => resolve());
  });
  // buildApp rather than startFauxqs, which listens on every interface: the emulators hold
  // events and batch results, and nothing off this machine may read them.
  const faux = buildApp({ logger: false });
  let fauxPort: number;
  try {
    fauxPort = Number(new URL(await faux.listen({ port: ports.sqsPort, host: '127.0.0.1' })).port);
  } catch (error) {
    await new Promise((resolve) => dynamo.close(resolve));
    throw error;
  }
  const dynamoPort = (dynamo.address() as AddressInfo).port;
  return {
    dynamodbEndpoint: `http://127.0.0.1:${dynamoPort}`,
    // fauxqs serves SNS and S3 (path-style) on this endpoint too.
    sqsEndpoint: `http://127.0.0.1:${fauxPort}`,
    async stop() {
      await faux.close();
      await new Promise((resolve) => dynamo.close(resolve));
    },
  };
}
