import type {
  BatchGetCommandInput,
  BatchGetCommandOutput,
  DynamoDBDocumentClient,
  GetCommandInput,
  GetCommandOutput,
  QueryCommandInput,
  QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';

/**
 * A read the operations make of a table: the DynamoDB operation and its input, in the plain
 * JavaScript values of lib-dynamodb's command of the same name. These are not SDK commands, so
 * that an operation built of reads (`events list`, `events show`, `jobs list`…) loads no SDK
 * client: the {@link Documents} it is sent to decides how it travels (see {@link documentsOver}).
 */
abstract class DocumentRead<Input> {
  abstract readonly operation: 'Query' | 'GetItem' | 'BatchGetItem';
  constructor(readonly input: Input) {}
}

/** A Query, as lib-dynamodb's `QueryCommand` takes it. */
export class QueryCommand extends DocumentRead<QueryCommandInput> {
  readonly operation = 'Query';
}

/** A GetItem, as lib-dynamodb's `GetCommand` takes it. */
export class GetCommand extends DocumentRead<GetCommandInput> {
  readonly operation = 'GetItem';
}

/** A BatchGetItem, as lib-dynamodb's `BatchGetCommand` takes it. */
export class BatchGetCommand extends DocumentRead<BatchGetCommandInput> {
  readonly operation = 'BatchGetItem';
}

export type ReadCommand = QueryCommand | GetCommand | BatchGetCommand;

type Answer<T> = Omit<T, '$metadata'>;
export type QueryAnswer = Answer<QueryCommandOutput>;
export type GetAnswer = Answer<GetCommandOutput>;
export type BatchGetAnswer = Answer<BatchGetCommandOutput>;

/** How reads travel: over HTTP to an endpoint (ops/dynamodb-http.ts), or through the SDK's document client. */
export interface ReadTransport {
  read(command: QueryCommand): Promise<QueryAnswer>;
  read(command: GetCommand): Promise<GetAnswer>;
  read(command: BatchGetCommand): Promise<BatchGetAnswer>;
  read(command: ReadCommand): Promise<QueryAnswer | GetAnswer | BatchGetAnswer>;
}

interface ReadSend {
  send(command: QueryCommand): Promise<QueryAnswer>;
  send(command: GetCommand): Promise<GetAnswer>;
  send(command: BatchGetCommand): Promise<BatchGetAnswer>;
}

/**
 * The tables of a target, as the operations use them: the reads above, and any lib-dynamodb
 * command (the writes of replay and redrive, and the functions' own reads) sent to the SDK's
 * document client, which it stands in for wherever one is expected.
 */
export type Documents = ReadSend & Pick<DynamoDBDocumentClient, 'send'>;

/** The {@link Documents} made here: they take the reads above as they are. */
const made = new WeakSet<object>();

/**
 * {@link Documents} whose reads go by `reads` and whose SDK commands go to the client `sdk` makes,
 * made (and the SDK loaded) on the first such command.
 */
export function documentsOver(reads: ReadTransport, sdk: () => Promise<Pick<DynamoDBDocumentClient, 'send'>>): Documents {
  let client: Promise<Pick<DynamoDBDocumentClient, 'send'>> | undefined;
  type Send = DynamoDBDocumentClient['send'];
  const send = async (command: ReadCommand | Parameters<Send>[0], options?: Parameters<Send>[1]) =>
    command instanceof DocumentRead ? reads.read(command) : (await (client ??= sdk())).send(command, options);
  const documents = { send } as Documents;
  made.add(documents);
  return documents;
}

/**
 * `documents` as {@link Documents}: a target's as it is; any other client that takes lib-dynamodb
 * commands (an SDK document client, a test's stand-in) with the reads sent to it as those commands.
 */
export function documentsOf(documents: Pick<DynamoDBDocumentClient, 'send'>): Documents {
  if (made.has(documents)) return documents as Documents;
  const sdk = async () => documents;
  return documentsOver(sdkReads(sdk), sdk);
}

/** Reads sent through the SDK's document client, as the lib-dynamodb command of the same name. */
export function sdkReads(client: () => Promise<Pick<DynamoDBDocumentClient, 'send'>>): ReadTransport {
  const read = async (command: ReadCommand) => {
    const [sdk, lib] = await Promise.all([client(), import('@aws-sdk/lib-dynamodb')]);
    switch (command.operation) {
      case 'Query':
        return sdk.send(new lib.QueryCommand(command.input));
      case 'GetItem':
        return sdk.send(new lib.GetCommand(command.input));
      case 'BatchGetItem':
        return sdk.send(new lib.BatchGetCommand(command.input));
    }
  };
  return { read } as ReadTransport;
}

/** A document client made, and the SDK's DynamoDB client loaded, on first use. */
export function lazySdkDocuments(config: object): () => Promise<DynamoDBDocumentClient> {
  let client: Promise<DynamoDBDocumentClient> | undefined;
  return () =>
    (client ??= Promise.all([import('@aws-sdk/client-dynamodb'), import('@aws-sdk/lib-dynamodb')]).then(([{ DynamoDBClient }, { DynamoDBDocumentClient }]) =>
      DynamoDBDocumentClient.from(new DynamoDBClient(config)),
    ));
}
