import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Route } from '../../functions/core/routes';
import { API_FIELDS } from '../../functions/core/sources';
import { batchData, fineTuneData } from '../../functions/consumers/enrich/openai-map';
import { observeBatch, observeFineTune } from '../../functions/poller/observe';
import { createFakeOpenAi } from '../../local/fake-openai';
import { CONTRACT_DOC, fieldSources, withSourcesTable } from '../../schemas/generate';

/**
 * Where each canonical field comes from, as the schemas (`x-sources`) and docs/contract.md say it:
 * the table of API-read fields must be what the enrichment and the poller really fill.
 */

const NOW = '2026-12-07T10:00:00.000Z';

describe('[SOURCES] where each canonical field comes from', () => {
  it('docs/contract.md shows the table the code gives (npm run schemas writes it)', () => {
    const doc = readFileSync(CONTRACT_DOC, 'utf8');

    expect(withSourcesTable(doc)).toBe(doc);
  });

  it('OpenAI: the fields its enrichment fills from the API are exactly those the table says', () => {
    const fake = createFakeOpenAi();
    const filled = (route: Route, data: Record<string, unknown>) => [route, Object.keys(data).filter((field) => field !== 'jobId' && field !== 'batchId').sort()];
    const succeeded = fake.createJob({ outcome: 'succeeded', steps: 6 }).job;
    const failed = fake.createJob({ outcome: 'failed', steps: 6 }).job;
    const cancelled = fake.createJob({ outcome: 'cancelled', steps: 6 }).job;
    const points = [{ step: 1, loss: 2 }];

    const seen = [
      filled('fine_tune.completed', fineTuneData('fine_tune.completed', succeeded, points, 0.5)),
      filled('fine_tune.failed', fineTuneData('fine_tune.failed', { ...failed, trained_tokens: 10 }, points)),
      filled('fine_tune.cancelled', fineTuneData('fine_tune.cancelled', { ...cancelled, trained_tokens: 10 }, points)),
      filled('batch.completed', batchData('batch.completed', fake.createBatch({ outcome: 'completed' }))),
      filled('batch.failed', batchData('batch.failed', { ...fake.createBatch({ outcome: 'failed' }), error_file_id: 'file-e', errors: { data: [{ message: 'bad line' }] } })),
      filled('batch.cancelled', batchData('batch.cancelled', fake.createBatch({ outcome: 'cancelled' }))),
      filled('batch.expired', batchData('batch.expired', fake.createBatch({ outcome: 'expired' }))),
    ];

    expect(Object.fromEntries(seen)).toEqual(Object.fromEntries(Object.entries(API_FIELDS.openai ?? {}).map(([route, fields]) => [route, [...(fields ?? [])].sort()])));
  });

  it("Together's poller: every field it sends is one the table names for the poller", () => {
    const job = { id: 'ft-1', status: 'completed', model: 'meta-llama/Llama-3-8b', model_output_name: 'acme/llama-ft', created_at: NOW, updated_at: NOW };
    const events = [
      { object: 'fine-tune-event', type: 'job_start', created_at: NOW },
      { object: 'fine-tune-event', type: 'checkpoint_save', created_at: NOW, step: 10, checkpoint_path: 's3://c/10' },
    ];
    const failedJob = { ...job, id: 'ft-2', status: 'error' };
    const observed = [
      ...observeFineTune(job as never, events as never, NOW, [{ step: 10, loss: 1 }]),
      ...observeFineTune(failedJob as never, [...events, { object: 'fine-tune-event', type: 'job_error', created_at: NOW, message: 'oom', step: 10 }] as never, NOW, [{ step: 10, loss: 1 }]),
      ...observeFineTune({ ...job, id: 'ft-3', status: 'cancelled' } as never, [] as never, NOW, [{ step: 10, loss: 1 }]),
      ...['COMPLETED', 'FAILED', 'CANCELLED', 'EXPIRED'].flatMap((status) =>
        observeBatch({ id: `b-${status}`, status, output_file_id: 'file-o', error_file_id: 'file-e', error: 'bad', completed_at: NOW } as never, NOW),
      ),
    ];

    const byRoute: Record<string, Set<string>> = {};
    for (const { event } of observed) for (const [field, value] of Object.entries(event.data)) if (value !== undefined) (byRoute[event.type] ??= new Set()).add(field);

    expect(Object.fromEntries(Object.entries(byRoute).map(([route, fields]) => [route, [...fields].sort()]))).toEqual(
      Object.fromEntries(Object.entries(API_FIELDS['together (poller)'] ?? {}).map(([route, fields]) => [route, [...(fields ?? [])].sort()])),
    );
  });

  it('a field a provider maps from its payload is payload, one read from its API is api', () => {
    expect(fieldSources('fine_tune.completed').openai).toMatchObject({ jobId: 'payload', modelName: 'api', checkpoints: 'api' });
    expect(fieldSources('fine_tune.completed').together).toMatchObject({ jobId: 'payload', modelName: 'payload', evalLoss: 'payload' });
    expect(fieldSources('fine_tune.completed')['together (poller)']).toMatchObject({ modelName: 'api' });
    expect(fieldSources('other')).toEqual({});
  });
});
