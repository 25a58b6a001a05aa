import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { buildApp } from 'fauxqs';
import { guardProgramOnly } from './loopback';

/** The only address the emulators listen on: they hold forgeable queues and tables, never exposed. */
export const LOOPBACK = '127.0.0.1';

export interface Emulators {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  /** Where each emulator listens (fauxqs serves SQS, SNS and S3 on one port). */
  addresses(): { readonly dynamodb: AddressInfo; readonly sqs: AddressInfo };
  stop(): Promise<void>;
}

export interface EmulatorPorts {
  /** 0 picks a free port (tests). */
  readonly dynamodbPort: number;
  readonly sqsPort: number;
}

/**
 * Starts in-memory DynamoDB (dynalite) and SQS/SNS/S3 (fauxqs) on loopback. fauxqs's own
 * `startFauxqs` listens on every interface, so its app is built and listened on here instead.
 * Both answer programs on this machine only: a request naming another Host, or sent by a web
 * page, is refused before the emulator sees it (see loopback.ts).
 */
export async function startEmulators(ports: EmulatorPorts): Promise<Emulators> {
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  guardProgramOnly(dynamo);
  await new Promise<void>((resolve, reject) => {
    dynamo.once('error', reject);
    dynamo.listen(ports.dynamodbPort, LOOPBACK, () => resolve());
  });
  const faux = buildApp({ logger: false });
  guardProgramOnly(faux.server);
  try {
    await faux.listen({ port: ports.sqsPort, host: LOOPBACK });
  } catch (error) {
    await faux.close();
    await new Promise((resolve) => dynamo.close(resolve));
    throw error;
  }
  const addresses = () => ({ dynamodb: dynamo.address() as AddressInfo, sqs: faux.server.address() as AddressInfo });
  return {
    dynamodbEndpoint: `http://${LOOPBACK}:${addresses().dynamodb.port}`,
    sqsEndpoint: `http://${LOOPBACK}:${addresses().sqs.port}`,
    addresses,
    async stop() {
      await faux.close();
      await new Promise((resolve) => dynamo.close(resolve));
    },
  };
}
