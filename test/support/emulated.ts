import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { readReceiverConfig, type ReceiverConfig } from '../../functions/core/config';
import type { ProviderName } from '../../functions/core/event';
import { isPayloadItemKey } from '../../functions/core/payload-item';
import { PROVIDERS } from '../../functions/core/providers';
import { ROUTES, type Route } from '../../functions/core/routes';
import { receiverFromConfig, type Receiver, type ReceiverClients } from '../../functions/receiver/receive';
import { startEmulators, type Emulators } from '../../local/emulators';
import { createLocalResources, queueUrlMap, type LocalResources } from '../../local/resources';
import { localClients, type LocalClients } from '../../local/runtime';

/** Emulators with the stack's resources, for tests that drive the receiver in-process. */
export interface Emulated {
  readonly emulators: Emulators;
  readonly resources: LocalResources;
  readonly clients: LocalClients;
  readonly config: ReceiverConfig;
  /** A receiver on these emulators; override clients to inject faults or a clock. */
  receiver(overrides?: Partial<ReceiverClients>, env?: Record<string, string>): Receiver;
  /** Removes and returns every message on a route's queue. */
  drain(route: Route): Promise<Message[]>;
  /** Removes and returns every message on every route's queue. */
  drainAll(): Promise<Map<Route, Message[]>>;
  /** Every item in the events table. */
  records(): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

/** The development secret of each provider: what `buildDelivery` signs with by default. */
export const TEST_SECRETS = Object.fromEntries(Object.values(PROVIDERS).map((p) => [p.name, [p.developmentSecret]])) as Record<
  ProviderName,
  string[]
>;

export async function startEmulated(): Promise<Emulated> {
  const emulators = await startEmulators({ dynamodbPort: 0, sqsPort: 0 });
  const clients = localClients(emulators);
  const resources = await createLocalResources(clients);
  const baseEnv = { TABLE_NAME: resources.eventsTable, QUEUE_URLS: JSON.stringify(queueUrlMap(resources)) };
  const config = readReceiverConfig(baseEnv);
  const logger = new Logger({ serviceName: 'test', logLevel: 'SILENT' });

  const drain = async (route: Route, sqs: SQSClient = clients.sqs): Promise<Message[]> => {
    const queueUrl = resources.queues[route].url;
    const all: Message[] = [];
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }),
      );
      if (Messages.length === 0) return all;
      all.push(...Messages);
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle as string })),
        }),
      );
    }
  };

  return {
    emulators,
    resources,
    clients,
    config,
    receiver(overrides = {}, env = {}) {
      return receiverFromConfig(readReceiverConfig({ ...baseEnv, ...env }), {
        documents: clients.documents,
        sqs: clients.sqs,
        getSecrets: async (provider) => TEST_SECRETS[provider],
        logger,
        ...overrides,
      });
    },
    drain: (route) => drain(route),
    async drainAll() {
      return new Map(await Promise.all(ROUTES.map(async (route) => [route, await drain(route)] as const)));
    },
    async records() {
      const { Items = [] } = await clients.documents.send(new ScanCommand({ TableName: resources.eventsTable, ConsistentRead: true }));
      // The event records, not the payload items some of them keep beside them.
      return Items.filter((item) => !isPayloadItemKey(String(item.pk)));
    },
    stop: () => emulators.stop(),
  };
}

/** The variables that point the `webhooks` CLI (target `local`) at these emulators. */
export function cliEnvOf(env: Emulated): Record<string, string> {
  return { DYNAMODB_PORT: new URL(env.emulators.dynamodbEndpoint).port, SQS_PORT: new URL(env.emulators.sqsEndpoint).port };
}
