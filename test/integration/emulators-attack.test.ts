import { request, type IncomingHttpHeaders } from 'node:http';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulators, type Emulators } from '../../local/emulators';

/**
 * What a page of another site can do without an Origin header: a no-cors GET (an `<img>`, a
 * `<script src>`, a navigation) carries only `Sec-Fetch-Site`. The S3 emulator serves objects by
 * plain GET, so that header alone must refuse it. Sent as the browser sends it, to the real
 * emulators on 127.0.0.1.
 */

type Answer = { status: number; headers: IncomingHttpHeaders; body: string };

function get(port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, method: 'GET', headers }, (answer) => {
      const parts: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => parts.push(chunk));
      answer.on('end', () => resolve({ status: answer.statusCode ?? 0, headers: answer.headers, body: Buffer.concat(parts).toString('utf8') }));
    })
      .on('error', reject)
      .end();
  });
}

const BUCKET = 'results-attack';
const SECRET_LINE = '{"custom_id":"row-1","response":"customer data"}';
let emulators: Emulators;
let port: number;

beforeAll(async () => {
  emulators = await startEmulators({ dynamodbPort: 0, sqsPort: 0 });
  port = emulators.addresses().sqs.port;
  const s3 = new S3Client({ endpoint: emulators.sqsEndpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'batch-1/output.jsonl', Body: SECRET_LINE }));
  s3.destroy();
});

afterAll(async () => {
  await emulators?.stop();
});

describe('the emulators refuse what a page of another site sends without an Origin', () => {
  it('[ATTACK] a batch result object read by a program naming 127.0.0.1 is served (so the refusals below are not vacuous)', async () => {
    const answer = await get(port, `/${BUCKET}/batch-1/output.jsonl`, { host: `127.0.0.1:${port}` });

    expect(answer.status).toBe(200);
    expect(answer.body).toBe(SECRET_LINE);
  });

  it.each(['cross-site', 'same-site'])('[ATTACK] a batch result object fetched by a page as a no-cors GET (Sec-Fetch-Site %s, no Origin) is refused with 403 and not served', async (site) => {
    const answer = await get(port, `/${BUCKET}/batch-1/output.jsonl`, { host: `127.0.0.1:${port}`, 'sec-fetch-site': site, 'sec-fetch-mode': 'no-cors' });

    expect(answer.status).toBe(403);
    expect(answer.body).not.toContain('customer data');
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('[ATTACK] a DynamoDB emulator request from a page as a no-cors navigation (Sec-Fetch-Site cross-site) is refused with 403 before dynalite sees it', async () => {
    const answer = await get(emulators.addresses().dynamodb.port, '/', { host: `127.0.0.1:${emulators.addresses().dynamodb.port}`, 'sec-fetch-site': 'cross-site' });

    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'forbidden' });
  });
});
