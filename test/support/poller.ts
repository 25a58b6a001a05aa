import type { AcceptResult } from '../../functions/core/accept';
import type { NormalizedEvent } from '../../functions/core/event';
import { stateKey, type PollerState, type PollerStateStore } from '../../functions/poller/state';
import { TogetherApiError, type Batch, type FineTuneCheckpoint, type FineTuneEvent, type FineTuneJob, type FineTuneMetric, type TogetherApi } from '../../functions/poller/together-api';

/** The stored state of a running fine-tune `id`, polled once, nothing announced yet; `overrides` on top. */
export const runningJobState = (id: string, overrides: Partial<PollerState>): PollerState => ({
  pk: stateKey('fine_tune', id),
  kind: 'fine_tune',
  subject: id,
  status: 'running',
  terminal: false,
  emitted: new Set(),
  polledAt: '2026-11-01T16:45:13.000Z',
  ...overrides,
});

/** What `GET /fine-tunes/{id}/checkpoints` and `…/metrics` answer for a job; absent is a 404. */
export interface FakeCurve {
  readonly checkpoints?: FineTuneCheckpoint[];
  readonly metrics?: FineTuneMetric[];
}

/**
 * An in-memory Together account: jobs, their events and batches, and a log of event reads and
 * lookups by id. Ids in `hidden` are left out of the lists but still found by id, as Together
 * does with jobs that fall off its list. A job's checkpoints and metrics come from `curves` (a 404
 * where absent); ids in `curveFailing` answer them with a 503 after retries.
 */
export function account(jobs: FineTuneJob[], events: Record<string, FineTuneEvent[]> = {}, batches: Batch[] = [], curves: Record<string, FakeCurve> = {}) {
  const eventReads: string[] = [];
  const curveReads: string[] = [];
  const curveFailing = new Set<string>();
  const lookups: string[] = [];
  const failing = new Set<string>();
  const hidden = new Set<string>();
  const api: TogetherApi = {
    listFineTunes: async () => jobs.filter((job) => !hidden.has(job.id)),
    listBatches: async () => batches.filter((batch) => !hidden.has(batch.id)),
    getFineTune: async (id) => {
      lookups.push(id);
      return jobs.find((job) => job.id === id);
    },
    getBatch: async (id) => {
      lookups.push(id);
      return batches.find((batch) => batch.id === id);
    },
    listFineTuneEvents: async (id) => {
      eventReads.push(id);
      if (failing.has(id)) throw new TogetherApiError('down', 'together_unavailable', `/fine-tunes/${id}/events`, 4, 503);
      return events[id] ?? [];
    },
    listFineTuneCheckpoints: async (id) => {
      curveReads.push(`${id}/checkpoints`);
      if (curveFailing.has(id)) throw new TogetherApiError('down', 'together_unavailable', `/fine-tunes/${id}/checkpoints`, 4, 503);
      return curves[id]?.checkpoints;
    },
    listFineTuneMetrics: async (id) => {
      curveReads.push(`${id}/metrics`);
      if (curveFailing.has(id)) throw new TogetherApiError('down', 'together_unavailable', `/fine-tunes/${id}/metrics`, 4, 503);
      return curves[id]?.metrics;
    },
  };
  return { api, eventReads, curveReads, lookups, failing, curveFailing, hidden };
}

/** The DynamoDB store's semantics in memory: merged key sets, terminal items never reopened. */
export function memoryStore(onSave: (state: PollerState) => void = () => undefined): PollerStateStore & { items: Map<string, PollerState>; open: Set<string> } {
  const items = new Map<string, PollerState>();
  const open = new Set<string>();
  let firstPolled: number | undefined;
  return {
    items,
    open,
    async firstPolledAt(nowMs) {
      firstPolled ??= nowMs;
      return firstPolled;
    },
    async load(pks) {
      return new Map(pks.flatMap((pk) => (items.has(pk) ? [[pk, items.get(pk) as PollerState] as const] : [])));
    },
    async save(state) {
      onSave(state);
      const previous = items.get(state.pk);
      if (previous?.terminal) return;
      items.set(state.pk, { ...state, emitted: new Set([...(previous?.emitted ?? []), ...state.emitted]) });
    },
    async openKeys() {
      return new Set(open);
    },
    async setOpen(pk, isOpen) {
      if (isOpen) open.add(pk);
      else open.delete(pk);
    },
  };
}

/** An accept path that records ids and dedupes like the real one. */
export function recorder(fail?: (event: NormalizedEvent, index: number) => Error | undefined) {
  const ids: string[] = [];
  const seen = new Set<string>();
  const accept = async (event: NormalizedEvent): Promise<AcceptResult> => {
    const failure = fail?.(event, ids.length);
    if (failure !== undefined) throw failure;
    ids.push(event.id);
    const key = `together#${event.id}`;
    if (seen.has(key)) return { status: 'duplicate', key, state: 'queued' };
    seen.add(key);
    return { status: 'accepted', key };
  };
  return { accept, ids };
}
