import { describe, expect, it } from 'vitest';
import type { NormalizedEvent } from '../../functions/core/event';
import { alertFor } from '../../functions/consumers/routes/alerts';
import { MAX_ERROR_TEXT_LENGTH } from '../../functions/consumers/routes/fields';
import { normalizedEvent } from '../support/consumers';

/** The alert of an event of `type` with `data` and the other fields given; no subject unless given. */
function alertOf(type: NormalizedEvent['type'], data: Record<string, unknown>, fields: Partial<NormalizedEvent> = {}) {
  const alert = alertFor(normalizedEvent({ type, providerType: type, subject: undefined, data, ...fields } as Partial<NormalizedEvent>));
  if (alert === undefined) throw new Error(`no alert for ${type}`);
  return alert;
}

/** The alert's own sentence, before the line naming the event. */
const sentence = (message: string) => message.split('\n\n')[0];

describe('what an alert says', () => {
  it.each([
    ['fine_tune.failed', { jobId: 'ft-9' }, 'Fine-tune ft-9 failed (together)', 'Fine-tune job ft-9 on together failed'],
    ['batch.failed', { batchId: 'batch-9' }, 'Batch batch-9 failed (together)', 'Batch batch-9 on together failed'],
    ['model.deprecated', { modelId: 'm-9' }, 'Model m-9 deprecated (together)', 'Model m-9 on together is deprecated'],
  ] as const)('[RULE] a %s event without a subject is named by the id in its data, in the subject and the message', (type, data, subject, opening) => {
    const alert = alertOf(type, data);

    expect(alert.subject).toBe(subject);
    expect(alert.message.startsWith(opening)).toBe(true);
  });

  it.each([
    ['fine_tune.failed', 'Fine-tune (unnamed) failed (together)'],
    ['batch.failed', 'Batch (unnamed) failed (together)'],
    ['model.deprecated', 'Model (unnamed) deprecated (together)'],
  ] as const)('[RULE] a %s event that names nothing at all says "(unnamed)"', (type, subject) => {
    expect(alertOf(type, {}).subject).toBe(subject);
  });

  it('[RULE] the event line after the sentence names the provider, event id, provider type and time of the event', () => {
    const alert = alertOf('batch.failed', { batchId: 'b-1', errorMessage: 'quota' }, { id: 'evt_42', providerType: 'batch.errored', occurredAt: '2026-12-01T10:00:00.000Z' });

    expect(alert.message).toBe('Batch b-1 on together failed: quota.\n\nEvent together#evt_42 (batch.errored) at 2026-12-01T10:00:00.000Z.');
  });

  it('[RULE] a deprecation without a sunset date or a replacement says so, with no date', () => {
    expect(sentence(alertOf('model.deprecated', { modelId: 'm-1' }).message)).toBe('Model m-1 on together is deprecated; no replacement was named.');
  });

  it.each([
    ['Unix seconds from 2001 on, as a date', '1000000000', '2001-09-09'],
    ['ten digits below 2001 (not a time), as written', '0999999999', '0999999999'],
    ['Unix milliseconds (not seconds), as written', '1801353600000', '1801353600000'],
    ['a date, as written', '2027-01-31', '2027-01-31'],
  ])('[RULE] a sunset sent as %s', (_case, sunsetDate, shown) => {
    expect(sentence(alertOf('model.deprecated', { modelId: 'm-1', sunsetDate }).message)).toBe(`Model m-1 on together is deprecated and stops serving on ${shown}; no replacement was named.`);
  });

  it.each([
    ['names neither current value nor threshold when the provider sent neither', {}, 'together usage reached its threshold.'],
    ['names the metric and the current value without a threshold', { metric: 'requests', current: 5000 }, 'together requests reached 5000.'],
    ['names the threshold of an unnamed metric', { current: 12, threshold: 10 }, 'together usage reached 12 of a 10 threshold.'],
  ])('[RULE] a usage alert %s', (_case, data, expected) => {
    const alert = alertOf('usage.threshold_reached', data);

    expect(alert.subject).toBe('Usage threshold reached (together)');
    expect(sentence(alert.message)).toBe(expected);
  });

  it('[RULE] the reason of a failure is the provider\'s message trimmed', () => {
    expect(sentence(alertOf('fine_tune.failed', { jobId: 'ft-1', errorMessage: '  CUDA out of memory \n' }).message)).toBe('Fine-tune job ft-1 on together failed: CUDA out of memory.');
  });

  it('[RULE] a reason of white space only is no reason: the alert names the provider\'s type instead', () => {
    const alert = alertOf('fine_tune.failed', { jobId: 'ft-1', errorMessage: ' \n\t ' }, { providerType: 'fine_tune.error' });

    expect(sentence(alert.message)).toBe('Fine-tune job ft-1 on together failed: no reason given (fine_tune.error).');
  });

  it(`[RULE] a long reason is cut to its first ${MAX_ERROR_TEXT_LENGTH} characters`, () => {
    const reason = `${'a'.repeat(MAX_ERROR_TEXT_LENGTH)}${'b'.repeat(100)}`;

    expect(sentence(alertOf('batch.failed', { batchId: 'b-1', errorMessage: reason }).message)).toBe(`Batch b-1 on together failed: ${'a'.repeat(MAX_ERROR_TEXT_LENGTH)}.`);
  });
});

describe('the subject of an alert e-mail', () => {
  /** The subject of a fine-tune failure naming `job`: "Fine-tune " (10) + job + " failed (together)" (18). */
  const subjectOf = (job: string) => alertOf('fine_tune.failed', {}, { subject: job }).subject;

  it('[RULE] a line break or control character in a name becomes a space, the rest of the name kept', () => {
    expect(subjectOf('ft-1\r\nBcc: all\u0085x')).toBe('Fine-tune ft-1  Bcc: all x failed (together)');
  });

  it('[RULE] a subject of 99 characters, the most SNS takes, is kept whole', () => {
    const job = 'x'.repeat(71);

    expect(subjectOf(job)).toBe(`Fine-tune ${job} failed (together)`);
  });

  it('[RULE] a subject of 100 characters or more keeps its first 98 and ends in an ellipsis', () => {
    const job = `${'x'.repeat(70)}yz`;

    expect(subjectOf(job)).toBe(`${`Fine-tune ${job} failed (together)`.slice(0, 98)}…`);
  });

  it('[RULE] an emoji across the cut goes whole, never half of it', () => {
    expect(subjectOf(`${'x'.repeat(87)}😀${'y'.repeat(20)}`)).toBe(`Fine-tune ${'x'.repeat(87)}…`);
  });
});
