import { createHmac, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { PROVIDERS } from '../functions/core/providers';
import { signDelivery } from '../functions/core/sign';
import { secretKey, verifySignature, type SignatureSpec } from '../functions/core/verify';
import { check, median, round, type Check } from './stats';

export const BODY_SIZES_BYTES = [1024, 64 * 1024, 256 * 1024] as const;

export interface VerificationCase {
  readonly scheme: string;
  readonly bodyBytes: number;
  /** Median over rounds of verifications per second. */
  readonly projectOpsPerSecond: number;
  readonly bareOpsPerSecond: number;
  /** Median of the per-round ratios project / bare (each round measures both back to back). */
  readonly ratio: Check;
}

export interface VerificationOptions {
  readonly rounds: number;
  /** How long each side runs per round. */
  readonly sliceMs: number;
}

interface Fixture {
  readonly name: string;
  readonly spec: SignatureSpec;
  readonly secret: string;
  /** What a hand-written verifier does: one HMAC, one constant-time compare, nothing else. */
  readonly bare: (headers: Record<string, string>, body: Buffer, nowSeconds: number) => boolean;
}

function fixtures(): Fixture[] {
  const together = PROVIDERS.together;
  const timestamped = together.signatureSchemes.timestamped as SignatureSpec;
  const togetherKey = Buffer.from(together.developmentSecret, 'utf8');
  const standard = PROVIDERS.standard;
  const standardSpec = standard.signatureSchemes.standard as SignatureSpec;
  // A hand-written verifier decodes the key once at start-up (the project caches a KeyObject per secret).
  const standardKey = secretKey('standard', standard.developmentSecret);
  return [
    {
      name: 'hex timestamped',
      spec: timestamped,
      secret: together.developmentSecret,
      bare: (headers, body, nowSeconds) => {
        const timestamp = headers['x-together-timestamp'] as string;
        if (Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
        const given = Buffer.from(headers['x-together-signature'] as string, 'hex');
        const expected = createHmac('sha256', togetherKey).update(`${timestamp}.`).update(body).digest();
        return given.length === expected.length && timingSafeEqual(given, expected);
      },
    },
    {
      name: 'standard',
      spec: standardSpec,
      secret: standard.developmentSecret,
      bare: (headers, body, nowSeconds) => {
        const timestamp = headers['webhook-timestamp'] as string;
        if (Math.abs(nowSeconds - Number(timestamp)) > 300) return false;
        const given = Buffer.from((headers['webhook-signature'] as string).slice('v1,'.length), 'base64');
        const expected = createHmac('sha256', standardKey)
          .update(`${headers['webhook-id']}.${timestamp}.`)
          .update(body)
          .digest();
        return given.length === expected.length && timingSafeEqual(given, expected);
      },
    },
  ];
}

/** A JSON body of exactly `bytes` bytes, so both verifiers hash the same realistic input. */
function jsonBody(bytes: number): Buffer {
  const head = '{"id":"evt_bench","type":"fine_tune.completed","data":{"pad":"';
  const tail = '"}}';
  return Buffer.from(head + 'x'.repeat(bytes - head.length - tail.length) + tail, 'utf8');
}

/** Operations per second of `operation` over about `sliceMs`; checks the clock every few calls only. */
function opsPerSecond(operation: () => boolean, sliceMs: number): number {
  let operations = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < sliceMs) {
    for (let i = 0; i < 8; i++) {
      if (!operation()) throw new Error('a benchmark verification failed: the fixture is wrong');
    }
    operations += 8;
    elapsed = performance.now() - started;
  }
  return (operations * 1000) / elapsed;
}

/**
 * The project's verifier against a bare node:crypto verifier on the same signed bodies. Each round
 * runs both back to back, in alternating order; the ratio is the median of the per-round ratios.
 */
export function benchVerification(options: VerificationOptions): VerificationCase[] {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const cases: VerificationCase[] = [];
  for (const fixture of fixtures()) {
    for (const bodyBytes of BODY_SIZES_BYTES) {
      const body = jsonBody(bodyBytes);
      const headers = {
        'content-type': 'application/json',
        ...signDelivery({ spec: fixture.spec, body, secret: fixture.secret, timestampSeconds: nowSeconds, id: 'msg_bench' }),
      };
      const project = () => {
        verifySignature({ spec: fixture.spec, headers, body, secrets: [fixture.secret], nowSeconds });
        return true;
      };
      const bare = () => fixture.bare(headers, body, nowSeconds);
      // Warm both paths so the first round does not measure the JIT.
      opsPerSecond(project, options.sliceMs / 2);
      opsPerSecond(bare, options.sliceMs / 2);

      const projectRates: number[] = [];
      const bareRates: number[] = [];
      const ratios: number[] = [];
      for (let round = 0; round < options.rounds; round++) {
        let projectRate: number;
        let bareRate: number;
        if (round % 2 === 0) {
          projectRate = opsPerSecond(project, options.sliceMs);
          bareRate = opsPerSecond(bare, options.sliceMs);
        } else {
          bareRate = opsPerSecond(bare, options.sliceMs);
          projectRate = opsPerSecond(project, options.sliceMs);
        }
        projectRates.push(projectRate);
        bareRates.push(bareRate);
        ratios.push(projectRate / bareRate);
      }
      cases.push({
        scheme: fixture.name,
        bodyBytes,
        projectOpsPerSecond: round(median(projectRates), 0),
        bareOpsPerSecond: round(median(bareRates), 0),
        ratio: check(median(ratios), 0.9, 'min'),
      });
    }
  }
  return cases;
}
