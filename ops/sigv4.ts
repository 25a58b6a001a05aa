/**
 * AWS Signature Version 4 for one JSON POST to the root path of an endpoint: all the light
 * DynamoDB transport (ops/dynamodb-http.ts) needs, signed by `aws4` (small, no dependencies). The
 * SDK's own signer, `@smithy/signature-v4`, gives the same signature (test/unit/sigv4.test.ts
 * holds the two together), but in the bundled bin it brings ~90 KB of the SDK's shared protocol
 * code with it, which alone cost `events list` more than its start budget.
 */
import aws4 from 'aws4';

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

/** The request's headers with `host`, `x-amz-date`, the session token if any, and `authorization`, names in lower case. */
export function signJsonPost(request: JsonPost): Record<string, string> {
  // aws4 takes the time from X-Amz-Date when it is given: 20261207T150000Z.
  const amzDate = request.now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const signed = aws4.sign(
    {
      host: request.url.host,
      method: 'POST',
      path: '/',
      service: request.service,
      region: request.region,
      headers: { ...request.headers, 'X-Amz-Date': amzDate },
      body: request.body,
    },
    request.credentials,
  );
  return Object.fromEntries(Object.entries(signed.headers ?? {}).map(([name, value]) => [name.toLowerCase(), String(value)]));
}
