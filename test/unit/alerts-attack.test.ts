import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it } from 'vitest';
import { readEnabledProviders } from '../../functions/core/config';
import type { NormalizedEvent, ProviderName } from '../../functions/core/event';
import { PROVIDERS } from '../../functions/core/providers';
import { alertFor } from '../../functions/consumers/routes/alerts';
import { createReceiver } from '../../functions/receiver/receive';
import { buildDelivery } from '../../ops/deliveries';
import { deliveryEvent } from '../support/gateway';

/**
 * A sender names the failed job, and that name becomes the subject of the alert e-mail. SNS
 * refuses a Publish whose subject holds a line break or a control character: one hostile name
 * would make the alert step fail on every attempt and the alert never go out. The job names here
 * go through the real receiver, as a signed delivery, before the alert is composed.
 */

/** What the receiver accepts of a signed Together `fine_tune.failed` naming job `jobName`. */
async function acceptedFailure(jobName: string): Promise<NormalizedEvent> {
  const accepted: NormalizedEvent[] = [];
  const receiver = createReceiver({
    providers: readEnabledProviders({}),
    getSecrets: async (provider: ProviderName) => [PROVIDERS[provider].developmentSecret],
    accept: async (event) => {
      accepted.push(event);
      return { status: 'accepted', key: `${event.provider}#${event.id}` };
    },
    maxBodyBytes: 262_144,
    retentionSeconds: 7 * 86_400,
    logger: new Logger({ logLevel: 'SILENT' }),
  });
  const body = JSON.stringify({
    id: 'evt_alert_attack',
    type: 'fine_tune.failed',
    created: Math.floor(Date.now() / 1000),
    data: { fine_tune_id: jobName, error_message: 'out of memory' },
  });
  const answer = await receiver(deliveryEvent(buildDelivery({ provider: 'together', type: 'fine_tune.failed', body })));
  expect(answer.statusCode).toBe(200);
  const [event] = accepted;
  if (event === undefined) throw new Error('the receiver accepted nothing');
  return event;
}

/** C0, DEL and C1 controls, and the Unicode line and paragraph separators: what SNS calls line breaks or control characters. */
const NOT_IN_A_SUBJECT = /[\p{Cc}\u2028\u2029]/u;
const LONE_SURROGATE = /\p{Cs}/u;

describe('alert subjects from hostile job names', () => {
  it.each([
    ['a CR LF header injection', 'ft-1\r\nBcc: everyone@example.com'],
    ['a bell, an escape sequence and DEL', 'ft-1\u0007\u001b[31m\u007f'],
    ['C1 controls (NEL, CSI)', 'ft-1\u0085Bcc: x\u009b31m'],
    ['the Unicode line and paragraph separators', 'ft-1\u2028second line\u2029third'],
  ])('[ATTACK] a job name with %s becomes a one-line subject without control characters', async (_name, jobName) => {
    const event = await acceptedFailure(jobName);

    const subject = alertFor(event)?.subject ?? '';

    expect(subject).toMatch(/^Fine-tune ft-1.* failed \(together\)$/);
    expect(subject).not.toMatch(NOT_IN_A_SUBJECT);
  });

  it('[ATTACK] a job name of 300 characters ending a subject at an emoji is cut to fewer than 100 characters, as SNS requires, without splitting the emoji into invalid UTF-16', async () => {
    // "Fine-tune " is 10 characters: the emoji straddles the cut at the 98th.
    const event = await acceptedFailure(`${'x'.repeat(87)}😀${'y'.repeat(210)}`);

    const subject = alertFor(event)?.subject ?? '';

    expect(subject.length).toBeLessThan(100);
    expect(subject).not.toMatch(LONE_SURROGATE);
    expect(subject.endsWith('…')).toBe(true);
  });
});
