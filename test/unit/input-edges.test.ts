import { describe, expect, it } from 'vitest';
import { BadRequestError, UnauthorizedError } from '../../functions/core/errors';
import { normalizeDelivery } from '../../functions/core/normalize';
import { PROVIDERS } from '../../functions/core/providers';
import { verifySignature, type SignatureSpec } from '../../functions/core/verify';
import { standardSignature } from '../reliability/support/harness';

/*
 * Edges of verification and normalization that a lenient implementation would let through:
 * each input here is signed correctly, so only the guard under test can stop it.
 */

const NOW_S = Date.parse('2026-11-01T16:45:13Z') / 1000;
const STANDARD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const specOf = (provider: keyof typeof PROVIDERS) => PROVIDERS[provider].signatureSchemes[PROVIDERS[provider].defaultSignatureScheme] as SignatureSpec;

function normalizeTogether(body: Buffer) {
  return normalizeDelivery({
    provider: PROVIDERS.together,
    spec: specOf('together'),
    body,
    verified: { signedAtSeconds: NOW_S },
    receivedAtMs: NOW_S * 1000,
    retentionSeconds: 7 * 86_400,
  });
}

describe('verification edges', () => {
  it('refuses a Standard delivery whose webhook-id is empty, even when the rest is signed over it (401 missing_id)', () => {
    const body = '{"type":"batch.completed","data":{"id":"batch_1"}}';
    const headers = { 'webhook-id': '', 'webhook-timestamp': String(NOW_S), 'webhook-signature': standardSignature(STANDARD_SECRET, '', NOW_S, body) };

    const verify = () => verifySignature({ spec: specOf('standard'), headers, body: Buffer.from(body), secrets: [STANDARD_SECRET], nowSeconds: NOW_S });

    expect(verify).toThrow(UnauthorizedError);
    expect(verify).toThrow(expect.objectContaining({ reason: 'missing_id' }));
  });
});

describe('normalization edges', () => {
  it('rejects a byte that is not UTF-8 inside a JSON string with a 400, instead of replacing it', () => {
    const body = Buffer.concat([Buffer.from('{"id":"evt_'), Buffer.from([0xff]), Buffer.from('","type":"fine_tune.completed","data":{}}')]);

    expect(() => normalizeTogether(body)).toThrow(BadRequestError);
  });

  it('rejects a negative created time with a 400', () => {
    const body = Buffer.from(JSON.stringify({ id: 'evt_negative', type: 'fine_tune.completed', created: -1, data: { fine_tune_id: 'ft-1' } }));

    expect(() => normalizeTogether(body)).toThrow(BadRequestError);
  });
});
