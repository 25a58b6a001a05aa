/**
 * Reads of DynamoDB's JSON protocol over plain `node:http`, signed by ops/sigv4.ts (held to the
 * SDK's own signer by its test) and (un)marshalled with `@aws-sdk/util-dynamodb`: what the CLI needs to
 * read the local runtime's tables without loading the SDK's DynamoDB client and its configuration
 * and credential chain, most of what starting a command would cost. Only for an endpoint with
 * fixed credentials (the emulators of `npm start`): a stack's reads keep the SDK's client, with
 * its full credential chain (profiles, SSO, roles), region resolution and endpoint rules.
 */
import { request } from 'node:http';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { AWS_CALL_BUDGET } from '../functions/core/aws';
import type { BatchGetAnswer, GetAnswer, QueryAnswer, ReadCommand, ReadTransport } from './documents';
import { signJsonPost } from './sigv4';

type Item = Record<string, unknown>;
type Wire = Record<string, AttributeValue>;

/** DynamoDB's answer to a failed call: `name` is its error type (`ResourceNotFoundException`…), as the SDK's errors have it. */
export class DynamoDBRequestError extends Error {
  override name: string;
  readonly statusCode: number;
  /** Worth another attempt: throttled or a server-side failure. */
  readonly retryable: boolean;
  constructor(type: string, message: string, statusCode: number) {
    super(message);
    this.name = type;
    this.statusCode = statusCode;
    this.retryable = statusCode >= 500 || RETRYABLE_TYPES.has(type);
  }
}

const RETRYABLE_TYPES = new Set(['ThrottlingException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'LimitExceededException']);
const RETRYABLE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED']);

const isRetryable = (error: unknown) =>
  error instanceof DynamoDBRequestError ? error.retryable : (error as { name?: string }).name === 'TimeoutError' || RETRYABLE_CODES.has((error as { code?: string }).code ?? '');

export interface HttpReadsOptions {
  /** `http://host:port`, e.g. the local runtime's DynamoDB. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** A {@link ReadTransport} that posts each read to `endpoint` (bounded and retried as AWS_CALL_BUDGET says for the SDK's clients). */
export function httpReads(options: HttpReadsOptions): ReadTransport {
  const url = new URL(options.endpoint);

  async function call(operation: string, input: object): Promise<Item> {
    const body = JSON.stringify(input, binaryAsBase64);
    const headers = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${operation}` };
    for (let attempt = 1; ; attempt += 1) {
      try {
        const signed = signJsonPost({ url, headers, body, region: options.region, service: 'dynamodb', credentials: options.credentials, now: new Date() });
        return await post(url, signed, body);
      } catch (error) {
        if (attempt >= AWS_CALL_BUDGET.maxAttempts || !isRetryable(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  const item = (wire: unknown) => (wire === undefined ? undefined : unmarshall(binaryFromBase64(wire as Wire)));
  const items = (wire: unknown) => (wire as Wire[] | undefined)?.map((one) => item(one) as Item);
  const values = (plain: Item | undefined) => (plain === undefined ? undefined : marshall(plain));

  async function read(command: ReadCommand): Promise<QueryAnswer | GetAnswer | BatchGetAnswer> {
    switch (command.operation) {
      case 'Query': {
        const { ExpressionAttributeValues, ExclusiveStartKey, ...rest } = command.input;
        const answer = await call('Query', { ...rest, ExpressionAttributeValues: values(ExpressionAttributeValues), ExclusiveStartKey: values(ExclusiveStartKey) });
        return { ...answer, Items: items(answer.Items), LastEvaluatedKey: item(answer.LastEvaluatedKey) } as QueryAnswer;
      }
      case 'GetItem': {
        const answer = await call('GetItem', { ...command.input, Key: values(command.input.Key) });
        return { ...answer, Item: item(answer.Item) } as GetAnswer;
      }
      case 'BatchGetItem': {
        const tables = Object.entries(command.input.RequestItems ?? {});
        const requestItems = Object.fromEntries(tables.map(([table, request]) => [table, { ...request, Keys: request.Keys?.map((key) => marshall(key)) }]));
        const answer = await call('BatchGetItem', { ...command.input, RequestItems: requestItems });
        const responses = Object.entries((answer.Responses ?? {}) as Record<string, Wire[]>).map(([table, found]) => [table, items(found)]);
        const unprocessed = Object.entries((answer.UnprocessedKeys ?? {}) as Record<string, { Keys?: Wire[] }>).map(([table, request]) => [table, { ...request, Keys: items(request.Keys) }]);
        return { ...answer, Responses: Object.fromEntries(responses), UnprocessedKeys: Object.fromEntries(unprocessed) } as BatchGetAnswer;
      }
    }
  }
  return { read } as ReadTransport;
}

/** JSON.stringify's replacer: DynamoDB's JSON carries binary (`B`, `BS`) as base64. */
function binaryAsBase64(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') : value;
}

/** An item of DynamoDB's JSON with its binary values as bytes, as the SDK's deserializer leaves them for `unmarshall`. */
function binaryFromBase64(item: Wire): Wire {
  const bytes = (base64: unknown) => new Uint8Array(Buffer.from(String(base64), 'base64'));
  const value = (attribute: AttributeValue): AttributeValue => {
    if (attribute.B !== undefined) return { B: bytes(attribute.B) };
    if (attribute.BS !== undefined) return { BS: attribute.BS.map(bytes) };
    if (attribute.M !== undefined) return { M: binaryFromBase64(attribute.M) };
    if (attribute.L !== undefined) return { L: attribute.L.map(value) };
    return attribute;
  };
  return Object.fromEntries(Object.entries(item).map(([name, attribute]) => [name, value(attribute)]));
}

/** One POST, its JSON answer, or the error DynamoDB (or the network) gave. */
function post(url: URL, headers: Record<string, string>, body: string): Promise<Item> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Item;
        try {
          parsed = text === '' ? {} : (JSON.parse(text) as Item);
        } catch {
          reject(new DynamoDBRequestError('InvalidResponse', `not JSON (HTTP ${res.statusCode}): ${text.slice(0, 200)}`, res.statusCode ?? 500));
          return;
        }
        const status = res.statusCode ?? 500;
        if (status >= 200 && status < 300) resolve(parsed);
        else {
          // `com.amazonaws.dynamodb.v20120810#ResourceNotFoundException` → its last part.
          const type = String(parsed.__type ?? `HTTP${status}`).split('#').pop() ?? `HTTP${status}`;
          reject(new DynamoDBRequestError(type, String(parsed.message ?? parsed.Message ?? text), status));
        }
      });
    });
    // One bound for the whole attempt: connecting, then answering (the SDK's two timeouts, added).
    const timer = setTimeout(() => {
      const error = new Error(`no answer from ${url.origin} within ${AWS_CALL_BUDGET.connectionTimeoutMs + AWS_CALL_BUDGET.requestTimeoutMs} ms`);
      error.name = 'TimeoutError';
      req.destroy(error);
    }, AWS_CALL_BUDGET.connectionTimeoutMs + AWS_CALL_BUDGET.requestTimeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(body);
  });
}
