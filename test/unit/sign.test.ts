import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { PROVIDERS } from '../../functions/core/providers';
import { signDelivery } from '../../functions/core/sign';
import type { SignatureSpec } from '../../functions/core/verify';

const standardSpec = PROVIDERS.standard.signatureSchemes.standard as SignatureSpec;

describe('signDelivery', () => {
  it('reproduces the Standard Webhooks public test vector', () => {
    const headers = signDelivery({
      spec: standardSpec,
      body: '{"test": 2432232314}',
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      timestampSeconds: 1614265330,
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    });
    expect(headers).toEqual({
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
      'webhook-timestamp': '1614265330',
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    });
  });

  it('signs Standard Webhooks deliveries the reference library verifies', () => {
    const secret = PROVIDERS.standard.developmentSecret;
    const nowSeconds = Math.floor(Date.now() / 1000);
    const payload = '{"type":"batch.completed","data":{"id":"batch_9"}}';
    const headers = signDelivery({ spec: standardSpec, body: payload, secret, timestampSeconds: nowSeconds, id: 'msg_9' });
    expect(new Webhook(secret).verify(payload, headers)).toEqual(JSON.parse(payload));
  });

  it('matches an openssl-computed body-only signature', () => {
    const headers = signDelivery({
      spec: PROVIDERS.together.signatureSchemes.body as SignatureSpec,
      body: '{"id":"evt_fixture_1","type":"fine_tune.completed","created":1764000000,"data":{"fine_tune_id":"ft-1"}}',
      secret: 'whsec_fixture-secret',
      timestampSeconds: 1764000000,
    });
    expect(headers).toEqual({ 'x-together-signature': '40a49e9857a491ce7361895567597e7d7bba7b4c3436ae32a0205132fe5eef2a' });
  });

  it('matches an openssl-computed timestamped signature and sends the timestamp', () => {
    const headers = signDelivery({
      spec: PROVIDERS.together.signatureSchemes.timestamped as SignatureSpec,
      body: '{"id":"evt_fixture_1","type":"fine_tune.completed","created":1764000000,"data":{"fine_tune_id":"ft-1"}}',
      secret: 'whsec_fixture-secret',
      timestampSeconds: 1764000000,
    });
    expect(headers).toEqual({
      'x-together-signature': 'd9ece4a2119519da03c53ceca1019a4eec99f840f159b14835e0d4b390a7481b',
      'x-together-timestamp': '1764000000',
    });
  });

  it('[RULE] refuses to sign a Standard Webhooks delivery without an id, and says it needs one', () => {
    const sign = () => signDelivery({ spec: standardSpec, body: '{}', secret: PROVIDERS.standard.developmentSecret, timestampSeconds: 1614265330 });

    expect(sign).toThrow(/^a Standard Webhooks delivery needs an id$/);
  });
});
