import { hmac, secretKey, type SignatureSpec } from './verify';

export interface SignInput {
  readonly spec: SignatureSpec;
  readonly body: Uint8Array | string;
  readonly secret: string;
  /** Unix seconds; used by the timestamped schemes. */
  readonly timestampSeconds: number;
  /** Standard Webhooks message id. */
  readonly id?: string;
}

/**
 * Signs a delivery the way the provider would and returns the headers to send. The tests, the
 * `npm run send` sample sender, the soak and the benchmarks all build their deliveries with it;
 * it is checked against the Standard Webhooks public test vector and independent fixtures.
 */
export function signDelivery(input: SignInput): Record<string, string> {
  const { spec } = input;
  const body = typeof input.body === 'string' ? Buffer.from(input.body, 'utf8') : input.body;
  const key = secretKey(spec.scheme, input.secret);
  const headers: Record<string, string> = {};
  switch (spec.scheme) {
    case 'hmac-hex':
      headers[spec.signatureHeader] = hmac(key, '', body).toString('hex');
      break;
    case 'hmac-hex-timestamped':
      headers[spec.signatureHeader] = hmac(key, `${input.timestampSeconds}.`, body).toString('hex');
      break;
    case 'standard': {
      if (input.id === undefined) throw new Error('a Standard Webhooks delivery needs an id');
      const mac = hmac(key, `${input.id}.${input.timestampSeconds}.`, body).toString('base64');
      headers[spec.signatureHeader] = `v1,${mac}`;
      break;
    }
  }
  if (spec.timestampHeader !== undefined) headers[spec.timestampHeader] = String(input.timestampSeconds);
  if (spec.idHeader !== undefined && input.id !== undefined) headers[spec.idHeader] = input.id;
  return headers;
}
