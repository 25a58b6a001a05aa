/**
 * AWS Signature Version 4 for one JSON POST to the root path of an endpoint (no query string): all
 * the light DynamoDB transport (ops/dynamodb-http.ts) needs. The SDK's own signer,
 * `@smithy/signature-v4`, signs the same request to the same headers (test/unit/sigv4.test.ts
 * holds this one to it), but in the bundled bin it brings ~90 KB of the SDK's shared protocol
 * code with it, which alone cost `events list` more than the start budget allows; this is
 * node:crypto and a few lines.
 */
import { createHash, createHmac } from 'node:crypto';

export interface SigningKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface JsonPost {
  /** `http(s)://host[:port]`: the request goes to its root path. */
  readonly url: URL;
  /** Headers to sign and send, names in lower case (`content-type`, `x-amz-target`…); `host` is added. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly region: string;
  readonly service: string;
  readonly credentials: SigningKey;
  /** The signing time. */
  readonly now: Date;
}

const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** The request's headers with `host`, `x-amz-date`, `x-amz-content-sha256`, the session token if any, and `authorization`. */
export function signJsonPost(request: JsonPost): Record<string, string> {
  // 20261207T150000Z and 20261207
  const longDate = request.now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const shortDate = longDate.slice(0, 8);
  const payloadHash = sha256Hex(request.body);
  const headers: Record<string, string> = {
    ...request.headers,
    host: request.url.host,
    'x-amz-date': longDate,
    'x-amz-content-sha256': payloadHash,
    ...(request.credentials.sessionToken === undefined ? {} : { 'x-amz-security-token': request.credentials.sessionToken }),
  };
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((name) => `${name}:${String(headers[name]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = ['POST', '/', '', canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${shortDate}/${request.region}/${request.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', longDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${request.credentials.secretAccessKey}`, shortDate), request.region), request.service), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${request.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}
