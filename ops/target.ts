import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientConfig } from '../functions/core/aws';
import { PROVIDER_NAMES, type ProviderName } from '../functions/core/provider-names';
import { ROUTES, type Route } from '../functions/core/routes';
import { LISTENER_QUEUE_SETTINGS, LOCAL_LISTENER, LOCAL_LISTENER_SECRET, listenerSigningSecret } from '../functions/core/listeners';
import { STACK_OUTPUTS } from '../functions/core/stack-outputs';
import { LOCAL_DEFAULT_PORTS, LOCAL_NAMES } from './local-names';
import { CliError, UsageError, connectionError } from './errors';
import { documentsOver, lazySdkDocuments, sdkReads } from './documents';
import { httpReads } from './dynamodb-http';

type Env = Readonly<Record<string, string | undefined>>;

/** A route's queue and dead-letter queue. ARNs are known for a stack (StartMessageMoveTask needs them). */
export interface RouteQueueRefs {
  readonly url: string;
  readonly deadLetterUrl: string;
  readonly arn?: string;
  readonly deadLetterArn?: string;
}

/** A listener of `webhooks listen`: its queue, its dead-letter queue and its signing secret. */
export interface ListenerRefs {
  readonly name: string;
  readonly queueUrl: string;
  readonly deadLetterUrl: string;
  /** A client whose request timeout outlasts a 20 s long poll (the target's own gives up after a few seconds). */
  readonly sqs: Pick<SQSClient, 'send'>;
  /** The Standard Webhooks secret, `whsec_…`; read on first use (in AWS, from Secrets Manager). */
  secret(): Promise<string>;
}

/** What the operations work against: the local runtime's emulators or a deployed stack. */
export interface Target {
  readonly kind: 'local' | 'aws';
  /** For messages: `local runtime (DynamoDB …, SQS …)` or `stack NAME`. */
  readonly description: string;
  /**
   * Its tables: made by {@link documentsOver}, the reads of ops/documents.ts go by the target's
   * transport, and lib-dynamodb commands to the SDK's document client, made on first use.
   */
  readonly documents: Pick<DynamoDBDocumentClient, 'send'>;
  /** Made on first use (see {@link lazySqsClient}). */
  readonly sqs: Pick<SQSClient, 'send'>;
  readonly eventsTable: string;
  /** The Together poller's state table, where the stack or runtime has one (polling on). */
  readonly pollerTable?: string;
  /** The jobs projection: one item per job or batch. */
  readonly jobsTable: string;
  /** Each job's checkpoints and states; a stack deployed before it has none (its job items hold their history). */
  readonly jobHistoryTable?: string;
  /** Locally, the stand-in EventBridge bus (`local/bus.ts`). A stack has none: EventBridge keeps nothing to read back. */
  readonly busTable?: string;
  /** Resolved on first use: only the commands that touch queues pay for it. */
  queues(): Promise<Readonly<Record<Route, RouteQueueRefs>>>;
  /** The stack's webhook URL per provider (none locally: the receiver's base URL is used). */
  readonly webhookUrls: Readonly<Partial<Record<ProviderName, string>>>;
  /** The stack's signing-secret ARN per provider (none locally: secrets come from the environment). */
  readonly secretArns: Readonly<Partial<Record<ProviderName, string>>>;
  /** A listener queue by name (`--listener`); without a name, the only one there is. */
  listener?(name: string | undefined): Promise<ListenerRefs>;
}

/** Default ports of `npm start`, the same variables it reads. */
function portFromEnv(env: Env, name: keyof typeof LOCAL_DEFAULT_PORTS): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return LOCAL_DEFAULT_PORTS[name];
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new UsageError(`${name} must be a port number, got "${raw}"`);
  return port;
}

/**
 * The local runtime of `npm start`: DynamoDB at 127.0.0.1:$DYNAMODB_PORT, SQS at 127.0.0.1:$SQS_PORT,
 * table and queue names from {@link LOCAL_NAMES}; queue URLs come from GetQueueUrl.
 */
export function localTarget(env: Env): Target {
  const dynamodbEndpoint = `http://127.0.0.1:${portFromEnv(env, 'DYNAMODB_PORT')}`;
  const sqsEndpoint = `http://127.0.0.1:${portFromEnv(env, 'SQS_PORT')}`;
  const config = clientConfig({ endpoint: dynamodbEndpoint });
  // The emulators take any credentials: reads go over plain HTTP, and a command that only reads
  // (`events list`…) starts without loading the SDK's DynamoDB client. Writes keep the SDK's client.
  const documents = documentsOver(httpReads({ endpoint: dynamodbEndpoint, region: config.region ?? 'us-east-1', credentials: config.credentials ?? { accessKeyId: 'local', secretAccessKey: 'local' } }), lazySdkDocuments(config));
  const sqs = lazySqsClient(clientConfig({ endpoint: sqsEndpoint }));
  let queues: Promise<Record<Route, RouteQueueRefs>> | undefined;
  return {
    kind: 'local',
    description: `local runtime (DynamoDB ${dynamodbEndpoint}, SQS ${sqsEndpoint})`,
    documents,
    sqs,
    eventsTable: LOCAL_NAMES.eventsTable,
    // Created only while `npm start` polls; `status` skips it when it is not there.
    pollerTable: LOCAL_NAMES.pollerTable,
    jobsTable: LOCAL_NAMES.jobsTable,
    jobHistoryTable: LOCAL_NAMES.jobHistoryTable,
    busTable: LOCAL_NAMES.busTable,
    queues: () => (queues ??= resolveLocalQueues(sqs, sqsEndpoint)),
    webhookUrls: {},
    secretArns: {},
    listener: async (name) => {
      if (name !== undefined && name !== LOCAL_LISTENER) {
        throw new UsageError(`the local runtime has one listener, ${LOCAL_LISTENER}, not "${name}": drop --listener, or pass --stack for a deployed stack's listeners`);
      }
      const [queueUrl, deadLetterUrl] = await Promise.all([
        localQueueUrl(sqs, sqsEndpoint, LOCAL_NAMES.listenerQueue(LOCAL_LISTENER)),
        localQueueUrl(sqs, sqsEndpoint, LOCAL_NAMES.listenerDeadLetterQueue(LOCAL_LISTENER)),
      ]);
      const listenSqs = lazySqsClient(longPollConfig(clientConfig({ endpoint: sqsEndpoint })));
      return { name: LOCAL_LISTENER, queueUrl, deadLetterUrl, sqs: listenSqs, secret: async () => LOCAL_LISTENER_SECRET };
    },
  };
}

/** `config` with a request timeout that outlasts a listener's long poll. */
function longPollConfig<T extends ReturnType<typeof clientConfig>>(config: T): T {
  return { ...config, requestHandler: { ...config.requestHandler, requestTimeout: (LISTENER_QUEUE_SETTINGS.waitTimeSeconds + 10) * 1000 } };
}

/**
 * An SQS client made, and the SQS part of the SDK loaded, on its first call: the commands that
 * read only DynamoDB (`events list`, `jobs`…) start without it.
 */
export function lazySqsClient(config: SQSClientConfig): Pick<SQSClient, 'send'> {
  let client: Promise<SQSClient> | undefined;
  const made = () => (client ??= import('@aws-sdk/client-sqs').then(({ SQSClient }) => new SQSClient(config)));
  // The one form the operations call: send(command) or send(command, options), resolving with the output.
  type Send = SQSClient['send'];
  const send = async (command: Parameters<Send>[0], options?: Parameters<Send>[1]) => (await made()).send(command, options);
  return { send } as Pick<SQSClient, 'send'>;
}

async function localQueueUrl(sqs: Pick<SQSClient, 'send'>, sqsEndpoint: string, name: string): Promise<string> {
  const { GetQueueUrlCommand, QueueDoesNotExist } = await import('@aws-sdk/client-sqs');
  try {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (QueueUrl === undefined) throw new CliError(`SQS returned no URL for queue ${name}`);
    return QueueUrl;
  } catch (error) {
    if (error instanceof QueueDoesNotExist) {
      throw new CliError(`queue ${name} does not exist on ${sqsEndpoint}: is the local runtime (\`npm start\`) running there?`);
    }
    if (error instanceof CliError) throw error;
    throw connectionError(error, `SQS at ${sqsEndpoint}`) ?? new CliError(`could not look up queue ${name}: ${String(error)}`, { cause: error });
  }
}

async function resolveLocalQueues(sqs: Pick<SQSClient, 'send'>, sqsEndpoint: string): Promise<Record<Route, RouteQueueRefs>> {
  const urlOf = (name: string) => localQueueUrl(sqs, sqsEndpoint, name);
  const entries = await Promise.all(
    ROUTES.map(async (route) => {
      const [url, deadLetterUrl] = await Promise.all([urlOf(LOCAL_NAMES.queue(route)), urlOf(LOCAL_NAMES.deadLetterQueue(route))]);
      return [route, { url, deadLetterUrl }] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<Route, RouteQueueRefs>;
}

/**
 * A deployed stack, found by its CloudFormation outputs (names in functions/core/stack-outputs.ts). Clients use
 * the usual AWS configuration: AWS_PROFILE, AWS_REGION, or the instance's role.
 */
export async function stackTarget(stackName: string, env: Env, cloudFormation?: CloudFormationClient): Promise<Target> {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const config = { ...clientConfig(), ...(region === undefined ? {} : { region }) };
  // Loaded here, by a command given --stack: a command against the local runtime never needs it.
  const cfn = cloudFormation ?? new (await import('@aws-sdk/client-cloudformation')).CloudFormationClient(config);
  const outputs = await readStackOutputs(cfn, stackName);
  const parsed = targetFromOutputs(stackName, outputs);
  // A stack's reads keep the SDK's client too: its credential chain (AWS_PROFILE, SSO, roles) and
  // region and endpoint rules are more than a light transport should copy, and a stack command
  // waits on the network far longer than it takes to load.
  const sdk = lazySdkDocuments(config);
  const documents = documentsOver(sdkReads(sdk), sdk);
  const sqs = lazySqsClient(config);
  return { ...parsed, documents, sqs, queues: async () => parsed.queueRefs, listener: async (name) => stackListener(stackName, outputs, name, config) };
}

/** A stack's listener from its outputs (`ListenerQueueUrl<Name>`…), its secret read from Secrets Manager. */
export function stackListener(
  stackName: string,
  outputs: Readonly<Record<string, string>>,
  name: string | undefined,
  config: ReturnType<typeof clientConfig> = clientConfig(),
): ListenerRefs {
  const prefix = STACK_OUTPUTS.listenerQueueUrl('');
  const names = Object.keys(outputs)
    .filter((key) => key.startsWith(prefix) && key.length > prefix.length)
    .map((key) => key.slice(prefix.length).toLowerCase());
  const chosen = name ?? (names.length === 1 ? names[0] : undefined);
  if (chosen === undefined || !names.includes(chosen)) {
    const have = names.length === 0 ? 'none: deploy with -c eventBus=true -c listeners=<your name>' : names.join(', ');
    throw new UsageError(
      `${name === undefined ? 'pass --listener <name>' : `stack ${stackName} has no listener "${name}"`}; its listeners: ${have}`,
    );
  }
  const secretArn = outputs[STACK_OUTPUTS.listenerSecretArn(chosen)] ?? '';
  return {
    name: chosen,
    queueUrl: outputs[STACK_OUTPUTS.listenerQueueUrl(chosen)] ?? '',
    deadLetterUrl: outputs[STACK_OUTPUTS.listenerDeadLetterQueueUrl(chosen)] ?? '',
    sqs: lazySqsClient(longPollConfig(config)),
    async secret() {
      try {
        // Loaded here: only `webhooks listen --stack` reads a secret.
        const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
        const { SecretString } = await new SecretsManagerClient(config).send(new GetSecretValueCommand({ SecretId: secretArn }));
        if (SecretString === undefined || SecretString.trim() === '') throw new CliError(`listener secret ${secretArn} is empty`);
        return listenerSigningSecret(SecretString);
      } catch (error) {
        if (error instanceof CliError) throw error;
        throw new CliError(`could not read listener secret ${secretArn}: ${error instanceof Error ? error.message : String(error)} (your identity needs secretsmanager:GetSecretValue on it)`, {
          cause: error,
        });
      }
    },
  };
}

/** The outputs of a stack as a name → value map. */
export async function readStackOutputs(cfn: CloudFormationClient, stackName: string): Promise<Record<string, string>> {
  const { DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  let stacks;
  try {
    ({ Stacks: stacks } = await cfn.send(new DescribeStacksCommand({ StackName: stackName })));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/does not exist/i.test(message)) {
      throw new UsageError(`stack ${stackName} does not exist in this account and region: check --stack, AWS_PROFILE and AWS_REGION`);
    }
    throw new CliError(`could not describe stack ${stackName}: ${message} (check AWS_PROFILE / AWS_REGION and your credentials)`, {
      cause: error,
    });
  }
  const stack = stacks?.[0];
  if (stack === undefined) throw new UsageError(`stack ${stackName} was not found: check --stack and AWS_REGION`);
  return Object.fromEntries((stack.Outputs ?? []).flatMap((output) => (output.OutputKey && output.OutputValue ? [[output.OutputKey, output.OutputValue]] : [])));
}

/**
 * The target's names from a stack's outputs. Every output the commands need must be there; the
 * error lists the missing ones (an older stack: deploy the current version with `cdk deploy`).
 */
export function targetFromOutputs(
  stackName: string,
  outputs: Readonly<Record<string, string>>,
): Pick<Target, 'kind' | 'description' | 'eventsTable' | 'jobsTable' | 'jobHistoryTable' | 'pollerTable' | 'webhookUrls' | 'secretArns'> & { queueRefs: Record<Route, RouteQueueRefs> } {
  const missing: string[] = [];
  const need = (name: string): string => {
    const value = outputs[name];
    if (value === undefined) missing.push(name);
    return value ?? '';
  };
  const eventsTable = need(STACK_OUTPUTS.eventsTableName);
  const jobsTable = need(STACK_OUTPUTS.jobsTableName);
  const queueRefs = Object.fromEntries(
    ROUTES.map((route) => [
      route,
      {
        url: need(STACK_OUTPUTS.queueUrl(route)),
        arn: need(STACK_OUTPUTS.queueArn(route)),
        deadLetterUrl: need(STACK_OUTPUTS.deadLetterQueueUrl(route)),
        deadLetterArn: need(STACK_OUTPUTS.deadLetterQueueArn(route)),
      },
    ]),
  ) as Record<Route, RouteQueueRefs>;
  if (missing.length > 0) {
    throw new CliError(`stack ${stackName} lacks the outputs ${missing.join(', ')}: deploy the current version of this project (cdk deploy)`);
  }
  const optional = (name: (provider: ProviderName) => string) =>
    Object.fromEntries(PROVIDER_NAMES.flatMap((provider) => (outputs[name(provider)] ? [[provider, outputs[name(provider)]]] : [])));
  return {
    kind: 'aws',
    description: `stack ${stackName}`,
    eventsTable,
    ...(outputs[STACK_OUTPUTS.pollerTableName] ? { pollerTable: outputs[STACK_OUTPUTS.pollerTableName] } : {}),
    jobsTable,
    ...(outputs[STACK_OUTPUTS.jobHistoryTableName] ? { jobHistoryTable: outputs[STACK_OUTPUTS.jobHistoryTableName] } : {}),
    queueRefs,
    webhookUrls: optional(STACK_OUTPUTS.webhookUrl),
    secretArns: optional(STACK_OUTPUTS.secretArn),
  };
}
