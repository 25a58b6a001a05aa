import { Tracer } from '@aws-lambda-powertools/tracer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTracer, currentTraceHeader, traced, tracedHandler, type FunctionTracer } from '../../functions/core/tracing';
import type { Context } from 'aws-lambda';

/** What an X-Ray console would show of the subsegments a stand-in Tracer opened. */
interface Recorded {
  readonly name: string;
  readonly annotations: Record<string, string>;
  readonly errors: Error[];
  closed: boolean;
}

/**
 * A tracer that traces, as Powertools' Tracer does in Lambda, recording what reaches X-Ray instead of
 * sending it; `withSubsegments: false` stands for the X-Ray SDK handing no subsegment (no segment open).
 */
function tracingTracer({ withSubsegments = true } = {}) {
  const subsegments: Recorded[] = [];
  const handlerAnnotations: string[] = [];
  const handlerErrors: Error[] = [];
  const tracer = {
    isTracingEnabled: () => true,
    annotateColdStart: () => handlerAnnotations.push('ColdStart'),
    addServiceNameAnnotation: () => handlerAnnotations.push('Service'),
    addErrorAsMetadata: (error: Error) => handlerErrors.push(error),
    provider: {
      captureAsyncFunc: (name: string, work: (subsegment: unknown) => Promise<unknown>) => {
        const recorded: Recorded = { name, annotations: {}, errors: [], closed: false };
        subsegments.push(recorded);
        const subsegment = {
          addAnnotation: (key: string, value: string) => (recorded.annotations[key] = value),
          addError: (error: Error) => recorded.errors.push(error),
          close: () => (recorded.closed = true),
        };
        return work(withSubsegments ? subsegment : undefined);
      },
    },
  };
  return { tracer: tracer as unknown as FunctionTracer, subsegments, handlerAnnotations, handlerErrors };
}

const UNTRACED: FunctionTracer = { isTracingEnabled: () => false, captureAWSv3Client: (client) => client };
const CONTEXT = { awsRequestId: 'req-1' } as Context;

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('function tracing', () => {
  it('[RULE] a traced handler runs in a "## <handler>" subsegment with the cold-start and service annotations, closed when it answers', async () => {
    vi.stubEnv('_HANDLER', 'index.handler');
    const { tracer, subsegments, handlerAnnotations } = tracingTracer();

    const answer = await tracedHandler(tracer, async (event: { n: number }, context) => `${event.n} ${context.awsRequestId}`)({ n: 1 }, CONTEXT);

    expect(answer).toBe('1 req-1');
    expect(subsegments).toEqual([{ name: '## index.handler', annotations: {}, errors: [], closed: true }]);
    expect(handlerAnnotations).toEqual(['ColdStart', 'Service']);
  });

  it('[RULE] a traced handler that fails records its error on the trace, closes its subsegment and still fails the invocation', async () => {
    vi.stubEnv('_HANDLER', undefined);
    const { tracer, subsegments, handlerErrors } = tracingTracer();
    const failure = new Error('queue unavailable');

    await expect(tracedHandler(tracer, async () => Promise.reject(failure))({}, CONTEXT)).rejects.toBe(failure);

    expect(handlerErrors).toEqual([failure]);
    expect(subsegments).toEqual([{ name: '## handler', annotations: {}, errors: [], closed: true }]);
  });

  it('[RULE] untraced, the handler is the function as written', () => {
    const handler = async () => 'ok';

    expect(tracedHandler(UNTRACED, handler)).toBe(handler);
  });

  it('[RULE] traced work runs in a subsegment of its name with searchable annotations, and its answer is returned', async () => {
    const { tracer, subsegments } = tracingTracer();

    const answer = await traced(tracer, 'record', { eventKey: 'together#evt_1', route: 'fine_tune.completed' }, async () => 42);

    expect(answer).toBe(42);
    expect(subsegments).toEqual([{ name: 'record', annotations: { eventKey: 'together#evt_1', route: 'fine_tune.completed' }, errors: [], closed: true }]);
  });

  it('[RULE] traced work that fails puts its error on its subsegment, closes it, and fails as it would untraced', async () => {
    const { tracer, subsegments } = tracingTracer();
    const failure = new Error('bus refused the entry');

    await expect(traced(tracer, 'record', { eventKey: 'together#evt_1' }, async () => Promise.reject(failure))).rejects.toBe(failure);

    expect(subsegments).toEqual([{ name: 'record', annotations: { eventKey: 'together#evt_1' }, errors: [failure], closed: true }]);
  });

  it('[RULE] with no subsegment to hang it on, traced work still runs and fails as written', async () => {
    const { tracer } = tracingTracer({ withSubsegments: false });
    const failure = new Error('boom');

    await expect(traced(tracer, 'record', { eventKey: 'together#evt_1' }, async () => 'done')).resolves.toBe('done');
    await expect(traced(tracer, 'record', { eventKey: 'together#evt_1' }, async () => Promise.reject(failure))).rejects.toBe(failure);
  });

  it('[RULE] untraced, work runs as written and opens no subsegment', async () => {
    await expect(traced(UNTRACED, 'record', { eventKey: 'together#evt_1' }, async () => 'done')).resolves.toBe('done');
  });

  it.each([
    ['traced, with a header', true, 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1', 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1'],
    ['traced, with an empty header', true, '', undefined],
    ['traced, without a header', true, undefined, undefined],
    ['untraced, with a header', false, 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1', undefined],
  ])('[RULE] the trace header passed on to the bus (%s) is Lambda’s, when there is one and tracing is on', (_case, tracing, header, expected) => {
    vi.stubEnv('_X_AMZN_TRACE_ID', header);
    const tracer = tracing ? tracingTracer().tracer : UNTRACED;

    expect(currentTraceHeader(tracer)).toBe(expected);
  });

  it('[RULE] a consumer’s tracer is Powertools’ Tracer unless POWERTOOLS_TRACE_ENABLED is false or the bundle leaves tracing out', async () => {
    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', 'true');
    expect(await createTracer()).toBeInstanceOf(Tracer);

    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', 'false');
    const off = await createTracer();
    const client = { middlewareStack: { use: () => undefined } };
    expect(off).not.toBeInstanceOf(Tracer);
    expect(off.isTracingEnabled()).toBe(false);
    expect(off.captureAWSv3Client(client)).toBe(client);

    vi.stubEnv('POWERTOOLS_TRACE_ENABLED', 'true');
    vi.stubEnv('WEBHOOKS_BUNDLE_TRACING', 'false');
    expect(await createTracer()).not.toBeInstanceOf(Tracer);
  });
});
