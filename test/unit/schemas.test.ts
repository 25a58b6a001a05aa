import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import type { NormalizedEvent } from '../../functions/core/event';
import { normalizeDelivery } from '../../functions/core/normalize';
import { PROVIDERS } from '../../functions/core/providers';
import { PROVIDER_SAMPLES } from '../../functions/core/providers/samples';
import { ROUTES } from '../../functions/core/routes';
import type { SignatureSpec } from '../../functions/core/verify';
import { observeBatch, observeFineTune } from '../../functions/poller/observe';
import { ENVELOPE_SCHEMA_FILE, jsonSchemaFiles, routeSchemaFile, SCHEMAS_DIR } from '../../schemas/generate';

const NOW_S = 1_793_551_513;

const checkedIn = (name: string) => JSON.parse(readFileSync(join(SCHEMAS_DIR, name), 'utf8')) as object;

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const envelope = ajv.compile(checkedIn(ENVELOPE_SCHEMA_FILE));
const byRoute = new Map(ROUTES.map((route) => [route, ajv.compile(checkedIn(routeSchemaFile(route)))]));

/** The errors of `event` against the envelope schema and its route's schema: none when valid. */
function schemaErrors(event: unknown): unknown[] {
  const route = byRoute.get((event as { type: (typeof ROUTES)[number] }).type);
  if (route === undefined) return ['no schema for the route'];
  envelope(event);
  route(event);
  return [...(envelope.errors ?? []), ...(route.errors ?? [])];
}

/** Every sample of every provider, as the receiver normalizes it and the queue carries it. */
function pushedSamples(): Array<[string, NormalizedEvent]> {
  return Object.values(PROVIDERS).flatMap((provider) =>
    Object.entries(PROVIDER_SAMPLES[provider.name]).map(([type, sample]): [string, NormalizedEvent] => [
      `${provider.name} ${type}`,
      normalizeDelivery({
        provider,
        spec: provider.signatureSchemes[provider.defaultSignatureScheme] as SignatureSpec,
        body: Buffer.from(JSON.stringify(sample({ id: 'schema-1', nowSeconds: NOW_S }))),
        verified: { headerId: 'msg_schema_1', signedAtSeconds: NOW_S },
        receivedAtMs: NOW_S * 1000,
        retentionSeconds: 7 * 86_400,
      }),
    ]),
  );
}

/** What the Together poller sees over a job's life and every batch ending. */
function polledSamples(): Array<[string, NormalizedEvent]> {
  const receivedAt = new Date(NOW_S * 1000).toISOString();
  const job = { id: 'ft-9', model: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference', model_output_name: 'acme/llama-9', updated_at: receivedAt };
  const events = [
    { type: 'job_start', created_at: receivedAt },
    { type: 'checkpoint_save', created_at: receivedAt, step: 10, checkpoint_path: 's3://ckpt/10' },
    { type: 'job_error', created_at: receivedAt, message: 'CUDA out of memory', step: 12 },
  ];
  const observations = [
    ...observeFineTune({ ...job, status: 'completed' }, events, receivedAt),
    ...observeFineTune({ ...job, status: 'error' }, events, receivedAt),
    ...['COMPLETED', 'FAILED', 'EXPIRED'].flatMap((status) =>
      observeBatch({ id: `batch-${status}`, status, output_file_id: 'file-out', error_file_id: 'file-err', error: { message: 'why' } }, receivedAt),
    ),
  ];
  return observations.map((observation) => [`together poll ${observation.event.id}`, JSON.parse(JSON.stringify(observation.event)) as NormalizedEvent]);
}

describe('JSON Schemas in schemas/', () => {
  it('are what npm run schemas writes from the zod schemas: the checked-in files have not drifted from the code', () => {
    const expected = jsonSchemaFiles();
    const onDisk = readdirSync(SCHEMAS_DIR).filter((name) => name.endsWith('.json'));

    expect(onDisk.sort(), 'run npm run schemas').toEqual([...expected.keys()].sort());
    for (const [name, text] of expected) expect(readFileSync(join(SCHEMAS_DIR, name), 'utf8'), `${name}: run npm run schemas`).toBe(text);
  });

  it('hold one schema per route and one for the envelope', () => {
    expect(jsonSchemaFiles().size).toBe(ROUTES.length + 1);
  });

  it.each(pushedSamples())('validate the %s sample as queued', (_name, event) => {
    expect(schemaErrors(JSON.parse(JSON.stringify(event)))).toEqual([]);
  });

  it.each(polledSamples())('validate the %s event', (_name, event) => {
    expect(schemaErrors(event)).toEqual([]);
  });

  it('reject an event whose canonical field has the wrong type, or whose version is not 2', () => {
    const [, event] = pushedSamples().find(([name]) => name === 'together fine_tune.completed') ?? [];

    expect(schemaErrors({ ...event, data: { ...event?.data, modelName: 42 } })).not.toEqual([]);
    expect(schemaErrors({ ...event, schemaVersion: 3 })).not.toEqual([]);
  });
});
