import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { clientConfig, effectClientConfig } from '../functions/core/aws';
import { integerEnv, readReceiverConfig, type ReceiverConfig } from '../functions/core/config';
import type { ProviderName } from '../functions/core/event';
import { PROVIDERS } from '../functions/core/providers';
import { FAKE_OPENAI_API_KEY } from './fake-openai';
import { startFakeProviders, type FakeProviders } from './fake-providers';
import { QUEUE_SETTINGS } from '../functions/core/queues';
import { ROUTES, type Route } from '../functions/core/routes';
import { createSecretsReader } from '../functions/core/secrets';
import { readConsumerConfig } from '../functions/consumers/config';
import { batchResultsFromEnv, resultsS3Config } from '../functions/consumers/routes/batch-results';
import { readPollerConfig, type PollerConfig } from '../functions/poller/config';
import { consumerFromConfig, type Consumer } from '../functions/consumers/consume';
import { openAiEnricherFromEnv } from '../functions/consumers/enrich/openai';
import type { Extensions } from '../functions/consumers/steps';
import { receiverFromConfig } from '../functions/receiver/receive';
import { localBus } from './bus';
import { startLocalConsumers, type LocalConsumers } from './consumers';
import { LOOPBACK, startEmulators, type Emulators } from './emulators';
import { createLocalServer, isLoopbackAddress, type PageHandler } from './http';
import type { Rejection } from '../ops/rejections';
import { createRejectionLog, type RejectionLog } from './rejections';
import { readPollIntervalSeconds, startLocalPoller } from './poller';
import { LOCAL_NAMES } from '../ops/local-names';
import { createLocalResources, createPollerTable, queueUrlMap, type LocalResources } from './resources';

type Env = Readonly<Record<string, string | undefined>>;

export interface LocalRuntimeOptions {
  readonly env: Env;
  /** Where the HTTP server listens; default 127.0.0.1. The emulators always stay on 127.0.0.1. */
  readonly host?: string;
  /** 0 picks free ports (tests). */
  readonly port: number;
  readonly dynamodbPort: number;
  readonly sqsPort: number;
  readonly logger?: Logger;
  /**
   * Run the route consumers (queue pollers) too; default true. Tests of the receiver alone turn
   * them off so that messages stay on the queues for them to read.
   */
  readonly consumers?: boolean;
  /**
   * Visibility timeout of the local pollers, in seconds: a failed record is retried after it.
   * Default: env LOCAL_VISIBILITY_TIMEOUT_SECONDS, else the stack's 180 s.
   */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * Consumers publish to the stand-in event bus (`local/bus.ts`); default true. The benchmarks turn
   * it off to measure the consumers as a deployment without `eventBus` runs them.
   */
  readonly eventBus?: boolean;
  /**
   * Serve the fake provider APIs (`local/fake-providers.ts`) on this port (0: a free one), and
   * complete OpenAI's events from its fake unless `OPENAI_API_KEY` names the real API; default off.
   */
  readonly fakeProviders?: { readonly port: number };
  /** Your own steps (`webhooks dev --steps`), run after each route's built-in ones as the deployed consumers run them. */
  readonly steps?: Extensions;
}

export interface LocalClients {
  readonly dynamodb: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  /** The results bucket's client (path-style, with the copy's longer timeouts). */
  readonly s3: S3Client;
}

export interface LocalRuntime {
  /** `http://127.0.0.1:{port}` */
  readonly url: string;
  readonly emulators: Emulators;
  /** Where every local server listens: the HTTP server and each emulator. */
  listeners(): { readonly http: AddressInfo; readonly dynamodb: AddressInfo; readonly sqs: AddressInfo };
  readonly resources: LocalResources;
  readonly clients: LocalClients;
  readonly config: ReceiverConfig;
  /** Providers running on a documented development secret because none was configured. */
  readonly developmentSecrets: readonly ProviderName[];
  /** What the Together poller polls, when it runs (it does when TOGETHER_API_KEY is set). */
  readonly polling?: { readonly baseUrl: string; readonly intervalSeconds: number };
  /** The fake provider APIs, when the runtime serves them; `openai`: whether OpenAI's events are completed from its fake. */
  readonly fakeProviders?: { readonly url: string; readonly openai: boolean };
  /** The last refused deliveries, newest first (see local/rejections.ts). */
  readonly rejections: RejectionLog;
  /** Whether the HTTP server listens on loopback only: the console is served only then. */
  readonly loopbackOnly: boolean;
  /** Serves every path other than the webhooks and `/health` with `pages` (the web console). */
  mount(pages: PageHandler): void;
  stop(): Promise<void>;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** The local name of the poller's state table. */
export const LOCAL_POLLER_TABLE = LOCAL_NAMES.pollerTable;

/** SDK clients pointed at the emulators. */
export function localClients(emulators: Pick<Emulators, 'dynamodbEndpoint' | 'sqsEndpoint'>): LocalClients {
  const dynamodb = new DynamoDBClient(clientConfig({ endpoint: emulators.dynamodbEndpoint }));
  return {
    dynamodb,
    documents: DynamoDBDocumentClient.from(dynamodb),
    sqs: new SQSClient(clientConfig({ endpoint: emulators.sqsEndpoint })),
    // fauxqs serves SNS on the same endpoint as SQS.
    sns: new SNSClient(effectClientConfig({ endpoint: emulators.sqsEndpoint })),
    // And S3, path-style.
    s3: new S3Client(resultsS3Config(emulators.sqsEndpoint)),
  };
}

/**
 * Every route's consumer on the local resources, built from the same configuration reader and
 * factory as the Lambda handler (env ROUTE, TABLE_NAME, JOBS_TABLE_NAME, JOB_HISTORY_TABLE_NAME, ALERTS_TOPIC_ARN), each
 * publishing its handled events to the stand-in bus (`local/bus.ts`), as with `eventBus` in AWS.
 * With `TOGETHER_API_KEY` set, batch results are on, into the local results bucket; with
 * `OPENAI_API_KEY` set, OpenAI's events are completed from its API (`OPENAI_API_BASE_URL`).
 */
export function localConsumerFunctions(
  env: Env,
  resources: LocalResources,
  clients: LocalClients,
  logger: Logger,
  options: { readonly eventBus?: boolean | undefined; readonly steps?: Extensions | undefined } = {},
): Record<Route, Consumer> {
  // One for every route: it reads the API for openai events on the fine-tune and batch routes only.
  const enrich = openAiKeySet(env) ? openAiEnricherFromEnv({ ...env, OPENAI_API_KEY_SECRET_ARN: undefined }) : undefined;
  return Object.fromEntries(
    ROUTES.map((route) => {
      const config = readConsumerConfig({
        ...env,
        ROUTE: route,
        TABLE_NAME: resources.eventsTable,
        JOBS_TABLE_NAME: resources.jobsTable,
        JOB_HISTORY_TABLE_NAME: resources.jobHistoryTable,
        ALERTS_TOPIC_ARN: resources.alertsTopicArn,
        RESULTS_BUCKET_NAME: route === 'batch.completed' && togetherKeySet(env) ? resources.resultsBucket : undefined,
      });
      const bus =
        options.eventBus === false
          ? {}
          : {
              bus: localBus({
                documents: clients.documents,
                tableName: resources.busTable,
                logger,
                listener: { sqs: clients.sqs, queueUrl: resources.listenerQueue.url },
              }),
            };
      const batchResults =
        config.resultsBucket === undefined
          ? undefined
          : batchResultsFromEnv(
              // Together's batches only, as before: OpenAI's variables are the enricher's here.
              { ...env, RESULTS_BUCKET_NAME: config.resultsBucket, TOGETHER_API_KEY_SECRET_ARN: undefined, OPENAI_API_KEY: undefined, OPENAI_API_KEY_SECRET_ARN: undefined },
              { s3: clients.s3 },
            );
      return [
        route,
        consumerFromConfig(config, {
          documents: clients.documents,
          sns: clients.sns,
          logger,
          ...bus,
          ...(batchResults === undefined ? {} : { batchResults }),
          ...(enrich === undefined ? {} : { enrich }),
          ...(options.steps === undefined ? {} : { extensions: options.steps }),
        }),
      ];
    }),
  ) as Record<Route, Consumer>;
}

/**
 * The whole product on one machine: emulators, the resources the stack would create, the same
 * receiver handler behind an HTTP server that speaks API Gateway's event format, and the same
 * consumer handler behind one queue poller per route (see local/consumers.ts).
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const logger = options.logger ?? new Logger({ serviceName: 'webhook-receiver' });
  const emulators = await startEmulators({ dynamodbPort: options.dynamodbPort, sqsPort: options.sqsPort });
  let fakes: FakeProviders | undefined;
  try {
    fakes =
      options.fakeProviders === undefined
        ? undefined
        : await startFakeProviders({ port: options.fakeProviders.port, replicateSecret: options.env.REPLICATE_WEBHOOK_SECRET?.split(',')[0]?.trim() || PROVIDERS.replicate.developmentSecret });
    const fakeOpenAi = fakes !== undefined && !openAiKeySet(options.env);
    const consumerEnv = fakeOpenAi ? { ...options.env, OPENAI_API_KEY: FAKE_OPENAI_API_KEY, OPENAI_API_BASE_URL: fakes?.baseUrls.openai } : options.env;
    const clients = localClients(emulators);
    const resources = await createLocalResources(clients);
    const config = readReceiverConfig({
      ...options.env,
      TABLE_NAME: resources.eventsTable,
      QUEUE_URLS: JSON.stringify(queueUrlMap(resources)),
    });
    const visibilityTimeoutSeconds =
      options.visibilityTimeoutSeconds ??
      integerEnv(options.env, 'LOCAL_VISIBILITY_TIMEOUT_SECONDS', QUEUE_SETTINGS.visibilityTimeoutSeconds, 0, 43_200);
    const consumerFunctions =
      options.consumers === false ? undefined : localConsumerFunctions(consumerEnv, resources, clients, logger, { eventBus: options.eventBus, steps: options.steps });
    const { env, developmentSecrets } = withDevelopmentSecrets(options.env, [...config.providers.keys()]);
    const rejections = createRejectionLog();
    // Bounded: a parse error can quote the start of the body, and a sender picks the path.
    const record = (rejection: Rejection) => rejections.record({ ...rejection, path: rejection.path.slice(0, 160), detail: rejection.detail.slice(0, 160) });
    const receiver = receiverFromConfig(config, {
      documents: clients.documents,
      sqs: clients.sqs,
      getSecrets: createSecretsReader({ ...env, SECRET_ARNS: undefined }, config.providers),
      logger,
      onRejected: record,
    });
    const host = options.host ?? LOOPBACK;
    // Everything that can fail on bad configuration happens before the server listens.
    const polling = await localPollerConfig(options.env, resources, clients);
    const server = createLocalServer(
      receiver,
      () => ({
        status: 'ok',
        providers: [...config.providers.keys()],
        dynamodb: emulators.dynamodbEndpoint,
        sqs: emulators.sqsEndpoint,
      }),
      { maxBodyBytes: config.maxBodyBytes },
      {
        pages: () => pages,
        // Beyond loopback, senders name this machine as they reach it.
        anyHost: !isLoopbackAddress(host),
        onBodyTooLarge: (provider, path, detail) => record({ at: new Date().toISOString(), provider, path, status: 413, reason: 'body_too_large', detail }),
      },
    );
    let pages: PageHandler | undefined;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    // A wildcard address is reached through loopback from here.
    const url = `http://${WILDCARD_HOSTS.has(host) ? LOOPBACK : host.includes(':') ? `[${host}]` : host}:${port}`;
    const consumers: LocalConsumers | undefined =
      consumerFunctions === undefined
        ? undefined
        : startLocalConsumers({
            sqsEndpoint: emulators.sqsEndpoint,
            queues: resources.queues,
            consumers: consumerFunctions,
            visibilityTimeoutSeconds,
            logger,
          });
    const poller =
      polling === undefined ? undefined : startLocalPoller({ documents: clients.documents, sqs: clients.sqs, ...polling, logger });
    return {
      url,
      emulators,
      listeners: () => ({ http: server.address() as AddressInfo, ...emulators.addresses() }),
      resources,
      clients,
      config,
      developmentSecrets,
      rejections,
      loopbackOnly: isLoopbackAddress(host),
      mount: (handler) => {
        pages = handler;
      },
      ...(polling === undefined ? {} : { polling: { baseUrl: polling.config.baseUrl, intervalSeconds: polling.intervalSeconds } }),
      ...(fakes === undefined ? {} : { fakeProviders: { url: fakes.url, openai: fakeOpenAi } }),
      async stop() {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await poller?.stop();
        await consumers?.stop();
        await fakes?.stop();
        await emulators.stop();
      },
    };
  } catch (error) {
    await fakes?.stop();
    await emulators.stop();
    throw error;
  }
}

/**
 * The configuration of the stack's scheduled Together poller, run here on a timer, when
 * `TOGETHER_API_KEY` is set (with its state table created): it calls Together's API
 * (`TOGETHER_API_BASE_URL`, e.g. the fake of `npm run fake-providers`) every
 * `TOGETHER_POLL_INTERVAL_SECONDS` and accepts what it observes through the same write path.
 */
async function localPollerConfig(
  env: Env,
  resources: LocalResources,
  clients: LocalClients,
): Promise<{ config: PollerConfig; intervalSeconds: number } | undefined> {
  if (!togetherKeySet(env)) return undefined;
  const config = readPollerConfig({
    ...env,
    TABLE_NAME: resources.eventsTable,
    QUEUE_URLS: JSON.stringify(queueUrlMap(resources)),
    POLLER_TABLE_NAME: LOCAL_POLLER_TABLE,
    TOGETHER_API_KEY_SECRET_ARN: undefined,
  });
  const intervalSeconds = readPollIntervalSeconds(env);
  await createPollerTable(clients.dynamodb, LOCAL_POLLER_TABLE);
  return { config, intervalSeconds };
}

/** Whether `TOGETHER_API_KEY` is set: locally it turns on the poller and batch results. */
function togetherKeySet(env: Env): boolean {
  return env.TOGETHER_API_KEY !== undefined && env.TOGETHER_API_KEY.trim() !== '';
}

/** Whether `OPENAI_API_KEY` is set: locally it turns on the OpenAI enricher in the consumers. */
function openAiKeySet(env: Env): boolean {
  return env.OPENAI_API_KEY !== undefined && env.OPENAI_API_KEY.trim() !== '';
}

/** Fills each unset `{NAME}_WEBHOOK_SECRET` with the provider's documented development secret. */
export function withDevelopmentSecrets(env: Env, providers: readonly ProviderName[]) {
  const filled: Record<string, string | undefined> = { ...env };
  const developmentSecrets: ProviderName[] = [];
  for (const name of providers) {
    const variable = PROVIDERS[name].secretEnv;
    if (filled[variable] === undefined || filled[variable]?.trim() === '') {
      filled[variable] = PROVIDERS[name].developmentSecret;
      developmentSecrets.push(name);
    }
  }
  return { env: filled, developmentSecrets };
}
