import { describe, expect, it } from 'vitest';
import { formatReport, type SoakReport } from '../../bench/soak';

const report: SoakReport = {
  sent: 3300,
  events: 3000,
  accepted: 2974,
  acknowledged: 3000,
  acceptedTwice: 0,
  duplicates: 326,
  conflicts: 40,
  retries: 300,
  rejectedAsExpected: 0,
  unexpected: 0,
  badStored: 0,
  lost: 0,
  handledTwice: 0,
  alertsMissing: 0,
  dlqDepth: 0,
  httpP50Ms: 1,
  httpP99Ms: 2,
  endToEndP50Ms: 3,
  endToEndP99Ms: 4,
  drained: true,
  ok: true,
};

describe('the soak summary', () => {
  it('says what each number counts: events acknowledged, "accepted" answers, events accepted twice', () => {
    const lines = formatReport(report).split('\n');

    expect(lines).toContain('events               3000 to deliver; 3000 got a 200 at least once (must be all)');
    expect(lines).toContain('"accepted" answers   2974 (fewer than the events when a sender gave up on a request that was accepted: its retry reads "duplicate")');
    expect(lines).toContain('accepted twice       0 events (must be 0)');
    expect(lines).toContain('"duplicate" answers  326');
  });
});
