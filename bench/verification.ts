import { createHmac, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { PROVIDERS } from '../functions/core/providers';
import { signDelivery } from '../functions/core/sign';
import { secretKey, verifySignature, type SignatureSpec } from '../functions/core/verify';
import { check, median, round, type Check } from './stats';

export const BODY_SIZES_BYTES = [1024, 64 * 1024, 256 * 1024] as const;
/** The project's verifier ÷ the fastest library verifying the same scheme: at least as fast. */
const PEER_TARGET = 1;
/** The project's verifier ÷ a raw HMAC and compare, for schemes no library verifies. */
const RAW_HMAC_TARGET = 0.9;

export interface VerificationCase {
  readonly scheme: string;
  readonly bodyBytes: number;
  /** Median over rounds of verifications per second. */
  readonly projectOpsPerSecond: number;
  readonly bareOpsPerSecond: number;
  /** Median of the per-round ratios project / bare (each round measures both back to back). */
  readonly ratio: number;
  /**
   * The target: where a library a user would otherwise verify with exists (the Standard scheme),
   * at least as fast as the fastest of them, per round (project / fastest library ≥ 1); for the
   * schemes no library verifies, at least 0.9 of the raw HMAC, which skips the checks the
   * contract requires.
   */
  readonly target: Check;
  /**
   * The libraries a user would otherwise verify with, on the same deliveries in the same rounds:
   * median rate, and the median of the per-round ratios project / library (≥ 1: ours is faster).
   */
  readonly peers: readonly PeerRate[];
}

export interface PeerRate {
  readonly name: string;
  readonly opsPerSecond: number;
  readonly ratio: number;
}

/** A peer library's verifier, built once per secret as its documentation shows. */
interface Peer {
  readonly name: string;
  readonly verify: (headers: Record<string, string>, body: Buffer) => void;
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
  readonly peers: readonly Peer[];
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
      // No library for Together's scheme: the raw HMAC is what a user would write.
      peers: [],
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
      peers: standardPeers(standard.developmentSecret),
    },
  ];
}

/**
 * The official `standardwebhooks` package and `svix`, each verifier constructed once (the secret
 * decoded once). Neither parses the body here (`jsonParse: false`, as svix always does), so all
 * three do the same work: the checks and the MAC. Both read the clock themselves (`Date.now()`).
 */
function standardPeers(secret: string): Peer[] {
  const standardWebhooks = new StandardWebhook(secret);
  const svix = new SvixWebhook(secret);
  return [
    { name: 'standardwebhooks', verify: (headers, body) => void standardWebhooks.verify(body, headers, { jsonParse: false }) },
    { name: 'svix', verify: (headers, body) => svix.verify(body, headers) },
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
      const peers = fixture.peers.map((peer) => () => {
        peer.verify(headers, body);
        return true;
      });
      // Every side of a round, in an order that rotates from round to round.
      const sides = [project, bare, ...peers];
      // Warm every path so the first round does not measure the JIT.
      for (const side of sides) opsPerSecond(side, options.sliceMs / 2);

      const rates: number[][] = sides.map(() => []);
      const ratios: number[] = [];
      const peerRatios: number[][] = peers.map(() => []);
      const fastestRatios: number[] = [];
      for (let round = 0; round < options.rounds; round++) {
        const rate: number[] = new Array<number>(sides.length).fill(0);
        for (let i = 0; i < sides.length; i++) {
          const index = (i + round) % sides.length;
          rate[index] = opsPerSecond(sides[index] as () => boolean, options.sliceMs);
        }
        rate.forEach((value, index) => rates[index]?.push(value));
        const projectRate = rate[0] as number;
        ratios.push(projectRate / (rate[1] as number));
        peerRatios.forEach((list, index) => list.push(projectRate / (rate[index + 2] as number)));
        if (peers.length > 0) fastestRatios.push(projectRate / Math.max(...rate.slice(2)));
      }
      cases.push({
        scheme: fixture.name,
        bodyBytes,
        projectOpsPerSecond: round(median(rates[0] as number[]), 0),
        bareOpsPerSecond: round(median(rates[1] as number[]), 0),
        ratio: round(median(ratios), 2),
        target: peers.length > 0 ? check(median(fastestRatios), PEER_TARGET, 'min') : check(median(ratios), RAW_HMAC_TARGET, 'min'),
        peers: fixture.peers.map((peer, index) => ({
          name: peer.name,
          opsPerSecond: round(median(rates[index + 2] as number[]), 0),
          ratio: round(median(peerRatios[index] as number[]), 2),
        })),
      });
    }
  }
  return cases;
}

/** `npx tsx bench/verification.ts`: this section alone, without the rest of `npm run bench`. */
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const row of benchVerification({ rounds: 9, sliceMs: 120 })) {
    const peers = row.peers.map((peer) => `  ${peer.name} ${peer.opsPerSecond.toLocaleString('en-US')}/s (ours ${peer.ratio.toFixed(2)}×)`).join('');
    console.log(
      `${row.scheme.padEnd(16)} ${String(row.bodyBytes / 1024).padStart(4)} KiB  project ${row.projectOpsPerSecond.toLocaleString('en-US')}/s  raw HMAC ${row.bareOpsPerSecond.toLocaleString('en-US')}/s (${row.ratio.toFixed(2)})${peers}; target ${row.target.value.toFixed(2)} ${row.target.met ? 'met' : 'missed'}`,
    );
  }
}
