import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import type { Subsegment } from 'aws-xray-sdk-core';

/*
 * X-Ray tracing of the functions, through Powertools' Tracer. It is on when the function runs in
 * Lambda and `POWERTOOLS_TRACE_ENABLED` is not `false` (the construct's `tracing: false` sets it);
 * off, nothing is patched and every helper here only calls through. Outside Lambda (`npm start`,
 * tests) the Tracer switches itself off.
 *
 * One delivery is one trace from the API to the consumer: the receiver's SQS client is captured,
 * so its SendMessage carries the `X-Amzn-Trace-Id` header, which SQS keeps with the message as its
 * `AWSTraceHeader` attribute; Lambda links the consumer's trace to the traces of the messages in
 * its batch. The consumers pass the trace on to EventBridge (the entry's `TraceHeader`).
 */

/** The function's tracer; its service is `POWERTOOLS_SERVICE_NAME`. Created once per execution environment. */
export function createTracer(): Tracer {
  // Responses are not kept as trace metadata: a consumer's or receiver's answer is not useful
  // there, and the rule of this code base is that no payload leaves the function.
  return new Tracer({ captureHTTPsRequests: true });
}

/**
 * The Lambda handler in a `## handler` subsegment with the cold-start and service annotations, its
 * error (never its response) as metadata. As Powertools' `captureLambdaHandler`, for a plain function.
 */
export function tracedHandler<E, R>(tracer: Tracer, handler: (event: E, context: Context) => Promise<R>): (event: E, context: Context) => Promise<R> {
  if (!tracer.isTracingEnabled()) return handler;
  return (event, context) =>
    inSubsegment(tracer, `## ${process.env._HANDLER ?? 'handler'}`, async () => {
      tracer.annotateColdStart();
      tracer.addServiceNameAnnotation();
      try {
        return await handler(event, context);
      } catch (error) {
        tracer.addErrorAsMetadata(error as Error);
        throw error;
      }
    });
}

/**
 * Runs `work` in its own subsegment with searchable annotations (e.g. the event key of one SQS
 * record: `annotation.eventKey = "together#evt_1"` in the X-Ray console).
 */
export function traced<T>(tracer: Tracer, name: string, annotations: Readonly<Record<string, string>>, work: () => Promise<T>): Promise<T> {
  if (!tracer.isTracingEnabled()) return work();
  return inSubsegment(tracer, name, async (subsegment) => {
    for (const [key, value] of Object.entries(annotations)) subsegment?.addAnnotation(key, value);
    try {
      return await work();
    } catch (error) {
      subsegment?.addError(error as Error);
      throw error;
    }
  });
}

/** `work` in a new subsegment of the current one, closed when it settles. */
function inSubsegment<T>(tracer: Tracer, name: string, work: (subsegment: Subsegment | undefined) => Promise<T>): Promise<T> {
  // The X-Ray SDK returns what the function returns; Powertools types it as unknown.
  return tracer.provider.captureAsyncFunc(name, async (subsegment) => {
    try {
      return await work(subsegment);
    } finally {
      subsegment?.close();
    }
  }) as Promise<T>;
}

/** The X-Ray trace header of the current invocation (`_X_AMZN_TRACE_ID`), when tracing is on. */
export function currentTraceHeader(tracer: Tracer): string | undefined {
  if (!tracer.isTracingEnabled()) return undefined;
  const header = process.env._X_AMZN_TRACE_ID;
  return header === undefined || header === '' ? undefined : header;
}
