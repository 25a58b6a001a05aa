import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ACCEPT_WORST_CASE_MS, acceptDepsFor, acceptEvent, type AcceptOptions, type AcceptResult } from '../core/accept';
import { RECEIVER_MARGIN_MS, RECEIVER_TIMEOUT_SECONDS, type EnabledProvider, type ReceiverConfig, type RetentionSettings } from '../core/config';
import type { SecretsReader } from '../core/secrets';
import {
  BadRequestError,
  DependencyError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  ReceiverError,
} from '../core/errors';
import { eventKey, type NormalizedEvent, type ProviderName } from '../core/event';
import { readDelivery } from '../core/normalize';
import { matchSignature, readSignatureClaim } from '../core/verify';

export interface ReceiverDeps {
  readonly providers: ReadonlyMap<ProviderName, EnabledProvider>;
  /** The active signing secrets of a provider; may throw when the secret store is unreachable. */
  readonly getSecrets: (provider: ProviderName) => Promise<readonly string[]>;
  readonly accept: (event: NormalizedEvent, options?: AcceptOptions) => Promise<AcceptResult>;
  readonly maxBodyBytes: number;
  /** Retention where `retention` names none. */
  readonly retentionSeconds: number;
  /** Per provider, for deliveries with and without a timestamp. */
  readonly retention?: RetentionSettings;
  /** Epoch milliseconds; each request's time budget is measured on it. */
  readonly clock?: () => number;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Told of every refused delivery (the local runtime keeps the last few for its console); never given the body or a secret. */
  readonly onRejected?: (rejection: { at: string; provider: string; path: string; status: number; reason: string; detail: string }) => void;
}

export type Receiver = (request: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The webhook endpoint: method, provider, body cap, signature, parsing, normalization (in that
 * order, each with the status of the contract), then the idempotent accept. Every failure is a
 * {@link ReceiverError}; anything else is a bug and answers 500.
 */
export function createReceiver(deps: ReceiverDeps): Receiver {
  return async (request) => {
    const providerParam = request.pathParameters?.provider ?? request.rawPath.split('/').pop() ?? '';
    const enabled = deps.providers.get(providerParam as ProviderName);
    const provider = enabled?.provider.name ?? 'unknown';
    // Filled in once the delivery is normalized, so that later failures are logged with their key.
    const reached: { key?: string; route?: string } = {};
    const startedMs = (deps.clock ?? Date.now)();
    try {
      const result = await receive(deps, request, providerParam, enabled, reached, startedMs);
      count(deps, provider, result.status === 'accepted' ? 'Accepted' : 'Duplicate', result.status);
      // The message is the outcome and the key names the provider: the line carries nothing twice.
      deps.logger.info(result.status === 'accepted' ? 'event accepted' : 'duplicate delivery', {
        key: result.key,
        route: reached.route,
        // Stryker disable next-line ConditionalExpression: an accepted result has no state; an undefined field is left out of the JSON line
        ...(result.status === 'duplicate' ? { state: result.state } : {}),
      });
      return respond(200, result.status === 'accepted' ? { status: 'accepted', key: result.key } : result);
    } catch (error) {
      if (!(error instanceof ReceiverError)) {
        deps.logger.error('unexpected error', { provider, ...reached, error: error as Error });
        count(deps, provider, 'Errors', 'unexpected');
        return respond(500, { error: 'internal_error' });
      }
      const log = error.statusCode >= 500 ? deps.logger.error : deps.logger.warn;
      log.call(deps.logger, 'delivery rejected', {
        provider,
        ...reached,
        status: error.statusCode,
        reason: error.reason,
        detail: error.message,
        ...(error.cause === undefined ? {} : { cause: String(error.cause) }),
      });
      count(deps, provider, 'Rejected', error.reason);
      deps.onRejected?.({ at: new Date((deps.clock ?? Date.now)()).toISOString(), provider, path: request.rawPath, status: error.statusCode, reason: error.reason, detail: error.message });
      return respond(error.statusCode, error.publicBody(), error.statusCode === 405 ? { allow: 'POST' } : {});
    }
  };
}

async function receive(
  deps: ReceiverDeps,
  request: APIGatewayProxyEventV2,
  providerParam: string,
  enabled: EnabledProvider | undefined,
  reached: { key?: string; route?: string },
  startedMs: number,
): Promise<AcceptResult> {
  const method = request.requestContext.http.method.toUpperCase();
  if (method !== 'POST') throw new MethodNotAllowedError(`method ${method} is not allowed; use POST`, 'method_not_allowed');
  if (enabled === undefined) {
    deps.logger.warn('unknown or disabled provider', { requested: providerParam.slice(0, 64), enabled: [...deps.providers.keys()] });
    throw new NotFoundError('unknown provider', 'unknown_provider');
  }
  const body = readBody(request, deps.maxBodyBytes);

  const receivedAtMs = request.requestContext.timeEpoch;
  // The headers first: a request that could never verify (unsigned junk, a stale timestamp) is a
  // 401 whatever the state of the secrets, so it never reaches the 503 of a missing secret.
  const claim = readSignatureClaim({ spec: enabled.spec, headers: request.headers ?? {}, nowSeconds: Math.floor(receivedAtMs / 1000) });
  const verified = matchSignature(claim, body, await activeSecrets(deps, enabled.provider.name));
  const name = enabled.provider.name;
  const { event, signedAtSeconds, dataDerived } = readDelivery({
    provider: enabled.provider,
    spec: enabled.spec,
    body,
    verified,
    receivedAtMs,
    retentionSeconds: deps.retention?.timestamped[name] ?? deps.retentionSeconds,
  });
  // The key goes on each log line rather than on the shared logger (appendKeys): the local
  // runtime serves requests concurrently, and persistent keys would tag other requests' lines.
  reached.key = eventKey(event);
  reached.route = event.type;
  // The accept starts only if, at its worst, it still answers before the function's timeout: after
  // a slow secrets refresh, a 503 with nothing written instead of a timeout with a leased record.
  const deadlineMs = startedMs + RECEIVER_TIMEOUT_SECONDS * 1000 - RECEIVER_MARGIN_MS;
  if ((deps.clock ?? Date.now)() + ACCEPT_WORST_CASE_MS > deadlineMs) {
    throw new DependencyError('too little of the time budget is left for the accept (slow secrets read?)', 'time_budget');
  }
  const retention = signedAtSeconds === undefined ? deps.retention?.untimestamped[name] : deps.retention?.timestamped[name];
  return deps.accept(event, {
    dataDerived,
    ...(signedAtSeconds === undefined ? {} : { signedAtSeconds }),
    ...(retention === undefined ? {} : { retentionSeconds: retention }),
  });
}

/** The provider's active secrets, or the 503 that says why there are none to verify with. */
async function activeSecrets(deps: ReceiverDeps, provider: ProviderName): Promise<readonly string[]> {
  let secrets: readonly string[];
  try {
    secrets = await deps.getSecrets(provider);
  } catch (error) {
    // A refused secret (`secret_invalid`) keeps its own reason: it has its own alarm.
    if (error instanceof ReceiverError) throw error;
    throw new DependencyError('could not read the signing secrets', 'secrets_unavailable', { cause: error });
  }
  if (secrets.length === 0) {
    // Retryable on purpose: the sender keeps the events until the operator sets the secret.
    throw new DependencyError(`no signing secret is set for ${provider}`, 'secret_not_set');
  }
  return secrets;
}

function readBody(request: APIGatewayProxyEventV2, maxBodyBytes: number): Buffer {
  const raw = request.body ?? '';
  if (!request.isBase64Encoded) {
    // Stryker disable next-line StringLiteral: a string is read as UTF-8 whichever way no encoding is named
    const body = Buffer.from(raw, 'utf8');
    if (body.length > maxBodyBytes) throw bodyTooLargeError(maxBodyBytes);
    return body;
  }
  // Check the size before decoding: base64 is 4/3 of the bytes it carries.
  if (Math.floor((raw.length * 3) / 4) - 2 > maxBodyBytes) throw bodyTooLargeError(maxBodyBytes);
  if (raw.length % 4 !== 0 || !BASE64.test(raw)) {
    throw new BadRequestError('body is flagged base64 but is not valid base64');
  }
  const body = Buffer.from(raw, 'base64');
  if (body.length > maxBodyBytes) throw bodyTooLargeError(maxBodyBytes);
  return body;
}

/** The 413 of a body over the cap; the local HTTP adapter answers it too, before reading further. */
export function bodyTooLargeError(maxBodyBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`body is over the ${maxBodyBytes}-byte limit`, 'body_too_large');
}

/**
 * One delivery per invocation, so the metric goes on the shared instance and the handler's
 * `publishStoredMetrics()` flushes it: one EMF line per delivery, and no per-call `singleMetric()`
 * instance (which costs a new Metrics and Console each time).
 */
function count(deps: ReceiverDeps, provider: string, name: string, reason: string): void {
  if (deps.metrics === undefined) return;
  deps.metrics.addDimensions({ provider, reason });
  deps.metrics.addMetric(name, MetricUnit.Count, 1);
}

function respond(
  statusCode: number,
  body: object,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export interface ReceiverClients {
  readonly documents: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly getSecrets: SecretsReader;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Epoch milliseconds; tests move it past a lease. */
  readonly clock?: () => number;
  readonly onRejected?: ReceiverDeps['onRejected'];
}

/** The receiver as deployed: configuration plus clients. Used by the Lambda handler and `npm start` alike. */
export function receiverFromConfig(config: ReceiverConfig, clients: ReceiverClients): Receiver {
  const acceptDeps = acceptDepsFor(config, clients);
  return createReceiver({
    providers: config.providers,
    getSecrets: clients.getSecrets,
    accept: (event, options) => acceptEvent(acceptDeps, event, options),
    maxBodyBytes: config.maxBodyBytes,
    retentionSeconds: config.retentionSeconds,
    retention: config.retention,
    ...(clients.clock === undefined ? {} : { clock: clients.clock }),
    logger: clients.logger,
    ...(clients.metrics === undefined ? {} : { metrics: clients.metrics }),
    ...(clients.onRejected === undefined ? {} : { onRejected: clients.onRejected }),
  });
}
