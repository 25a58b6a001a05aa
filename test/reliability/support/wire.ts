import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ProviderName } from '../../../functions/core/event';
import { PROVIDERS } from '../../../functions/core/providers';
import { gatewayEvent } from '../../support/gateway';
import { hexHmac, standardSignature } from './harness';

/**
 * The five ways a delivery can be signed in a deployment: each provider with its default scheme,
 * plus Together's body-only scheme (`TOGETHER_SIGNATURE_SCHEME=body`).
 */
export const TARGETS = {
  together: { provider: 'together', env: {}, signatureHeader: 'x-together-signature', timestampHeader: 'x-together-timestamp' },
  'together-body': { provider: 'together', env: { TOGETHER_SIGNATURE_SCHEME: 'body' }, signatureHeader: 'x-together-signature' },
  llmtune: { provider: 'llmtune', env: {}, signatureHeader: 'x-llmtune-signature' },
  mythicdot: { provider: 'mythicdot', env: {}, signatureHeader: 'x-mythicdot-signature' },
  standard: { provider: 'standard', env: {}, signatureHeader: 'webhook-signature', timestampHeader: 'webhook-timestamp', idHeader: 'webhook-id' },
} as const satisfies Record<
  string,
  { provider: ProviderName; env: Record<string, string>; signatureHeader: string; timestampHeader?: string; idHeader?: string }
>;

export type Target = keyof typeof TARGETS;
export const TARGET_NAMES = Object.keys(TARGETS) as Target[];
/** Schemes that sign a timestamp header (300 s window). */
export const SIGNED_TIMESTAMP_TARGETS: Target[] = ['together', 'standard'];
/** Schemes that resend the same bytes (body timestamp held to the retention rule). */
export const BODY_TIMESTAMP_TARGETS: Target[] = ['together-body', 'llmtune', 'mythicdot'];

export const secretOf = (target: Target): string => PROVIDERS[TARGETS[target].provider].developmentSecret;

/** A delivery as it leaves the sender. */
export interface Wire {
  readonly target: Target;
  readonly path: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly base64: boolean;
  /** When it reaches the gateway, Unix seconds. */
  readonly arrivalSeconds: number;
}

export interface EnvelopeOptions {
  /** Event id (Together, MythicDot, the standard `webhook-id`); folded into the data for LLMTune. */
  readonly id: string;
  /** The body timestamp (`created`, `deliveredAt`, `created_at`), Unix seconds. */
  readonly createdSeconds: number;
  /** Extra fields merged into the event's data (e.g. a marker string). */
  readonly data?: Record<string, unknown>;
}

/** A well-formed envelope of the target's provider. */
export function envelopeOf(target: Target, options: EnvelopeOptions): Record<string, unknown> {
  const { id, createdSeconds, data = {} } = options;
  switch (TARGETS[target].provider) {
    case 'together':
      return { id, type: 'fine_tune.completed', created: createdSeconds, data: { fine_tune_id: 'ft-1', model_name: 'acme/m', ...data } };
    case 'llmtune':
      return {
        event: 'training.completed',
        data: { jobId: `job-${id}`, baseModel: 'base', ...data },
        deliveredAt: new Date(createdSeconds * 1000).toISOString(),
      };
    case 'mythicdot':
      return { id, type: 'batch.completed', created: createdSeconds, data: { object: { id: 'batch_1', status: 'completed', ...data } } };
    case 'standard':
      return { id: `evt_${id}`, object: 'event', created_at: createdSeconds, type: 'batch.completed', data: { id: 'batch_1', ...data } };
  }
}

export interface SignOptions {
  /** The signed timestamp header, Unix seconds. */
  readonly timestampSeconds: number;
  /** The `webhook-id` of the standard scheme. */
  readonly id: string;
  /** The target provider's development secret when omitted. */
  readonly secret?: string;
}

/** The headers a sender of the target's scheme puts on `body`, signed independently of the project's signer. */
export function signWire(target: Target, body: Buffer, options: SignOptions): Record<string, string> {
  const secret = options.secret ?? secretOf(target);
  const spec = TARGETS[target];
  const ts = options.timestampSeconds;
  switch (target) {
    case 'together':
      return {
        'content-type': 'application/json',
        [spec.signatureHeader]: hexHmac(secret, Buffer.concat([Buffer.from(`${ts}.`), body])),
        'x-together-timestamp': String(ts),
      };
    case 'standard':
      return {
        'content-type': 'application/json',
        'webhook-id': options.id,
        'webhook-timestamp': String(ts),
        'webhook-signature': standardSignature(secret, options.id, ts, body),
      };
    default:
      return { 'content-type': 'application/json', [spec.signatureHeader]: hexHmac(secret, body) };
  }
}

export interface WireOptions {
  /** Arrival at the gateway, Unix seconds. */
  readonly arrivalSeconds: number;
  readonly id: string;
  /** The signed timestamp header; the arrival time when omitted. */
  readonly timestampSeconds?: number;
  /** The body timestamp; the arrival time when omitted. */
  readonly createdSeconds?: number;
  /** Bytes to sign instead of the envelope. */
  readonly body?: Buffer | string;
  /** An envelope to sign instead of the default one. */
  readonly envelope?: unknown;
  readonly secret?: string;
  readonly data?: Record<string, unknown>;
}

/** A correctly signed delivery of the target. */
export function wire(target: Target, options: WireOptions): Wire {
  const timestampSeconds = options.timestampSeconds ?? options.arrivalSeconds;
  const body =
    options.body !== undefined
      ? Buffer.isBuffer(options.body)
        ? options.body
        : Buffer.from(options.body, 'utf8')
      : Buffer.from(
          JSON.stringify(
            options.envelope ??
              envelopeOf(target, {
                id: options.id,
                createdSeconds: options.createdSeconds ?? options.arrivalSeconds,
                ...(options.data === undefined ? {} : { data: options.data }),
              }),
          ),
        );
  return {
    target,
    path: `/webhooks/${TARGETS[target].provider}`,
    method: 'POST',
    headers: signWire(target, body, { timestampSeconds, id: options.id, ...(options.secret === undefined ? {} : { secret: options.secret }) }),
    body,
    base64: false,
    arrivalSeconds: options.arrivalSeconds,
  };
}

/**
 * The API Gateway v2 event of a delivery. Header names are kept exactly as given (API Gateway
 * lower-cases them; the receiver must not depend on that).
 */
export function toEvent(delivery: Wire): APIGatewayProxyEventV2 {
  const event = gatewayEvent({
    path: delivery.path,
    method: delivery.method,
    body: delivery.body,
    base64: delivery.base64,
    timeEpoch: delivery.arrivalSeconds * 1000,
  });
  return { ...event, headers: { ...delivery.headers } };
}
