import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { signJsonPost, type JsonPost } from '../../ops/sigv4';

/** SHA-256 (an HMAC when given a secret) in the form the SDK's signer takes. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | Uint8Array) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', secret);
  }
  update(data: string | Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

/**
 * The authorization the SDK's own signer gives the same request with the same headers (`aws4`
 * adds content-length, as the request is sent; the SDK adds no payload hash for DynamoDB here).
 */
async function sdkAuthorization(request: JsonPost, headers: Record<string, string>): Promise<string | undefined> {
  const signer = new SignatureV4({ service: request.service, region: request.region, credentials: request.credentials, sha256: Sha256 as never, applyChecksum: false });
  const { authorization: _ours, ...unsigned } = headers;
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: request.url.protocol,
      hostname: request.url.hostname,
      ...(request.url.port === '' ? {} : { port: Number(request.url.port) }),
      path: '/',
      query: {},
      headers: unsigned,
      body: request.body,
    },
    { signingDate: request.now },
  );
  return signed.headers.authorization;
}

const base: JsonPost = {
  url: new URL('http://127.0.0.1:8000'),
  headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'DynamoDB_20120810.Query' },
  body: JSON.stringify({ TableName: 'events', KeyConditionExpression: '#day = :day', ExpressionAttributeValues: { ':day': { S: '2026-12-07' } } }),
  region: 'us-east-1',
  service: 'dynamodb',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  now: new Date('2026-12-07T15:04:05.678Z'),
};

describe('signJsonPost', () => {
  it('[CLI-START] signs a DynamoDB JSON POST to the same headers as the SDK’s own SigV4 signer', async () => {
    const headers = signJsonPost(base);

    expect(headers).toMatchObject({ host: '127.0.0.1:8000', 'x-amz-date': '20261207T150405Z', 'content-length': String(Buffer.byteLength(base.body)) });
    expect(headers.authorization).toBe(await sdkAuthorization(base, headers));
  });

  it('[CLI-START] signs as the SDK does with a session token, another region, a default port and a body of non-ASCII text', async () => {
    const request: JsonPost = {
      ...base,
      url: new URL('https://dynamodb.eu-west-1.amazonaws.com'),
      region: 'eu-west-1',
      body: JSON.stringify({ Key: { pk: { S: 'together#évt_ü  two  spaces' } } }),
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'token/with+chars=' },
      now: new Date('2027-01-01T00:00:00.000Z'),
    };

    const headers = signJsonPost(request);

    expect(headers['x-amz-security-token']).toBe('token/with+chars=');
    expect(headers.authorization).toBe(await sdkAuthorization(request, headers));
  });

  it('[CLI-START] a different secret gives a different signature', () => {
    const other = signJsonPost({ ...base, credentials: { accessKeyId: 'local', secretAccessKey: 'other' } });

    expect(other.authorization).not.toBe(signJsonPost(base).authorization);
    expect(other.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=local\/20261207\/us-east-1\/dynamodb\/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$/);
  });
});
