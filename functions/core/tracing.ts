import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import type { Subsegment } from 'aws-xray-sdk-core';
import type { Socket } from 'node:dgram';

/*
 * X-Ray tracing of the functions. The consumers and the poller trace through Powertools' Tracer; the
 * receiver through a plugin on its SDK clients (createSdkCallTracer, functions/core/sdk-tracing.ts),
 * without the X-Ray SDK. Either is on when the function runs in Lambda and `POWERTOOLS_TRACE_ENABLED`
 * is not `false` (the construct's `tracing: false` sets it); off, nothing is patched and every helper
 * here only calls through. Outside Lambda (`npm start`, tests) both switch themselves off.
 *
 * One delivery is one trace from the API to the consumer: the receiver's SendMessage carries the
 * trace header of its own subsegment, as the `X-Amzn-Trace-Id` header and the message's
 * `AWSTraceHeader` attribute; Lambda links the consumer's trace to the traces of the messages in
 * its batch. The consumers pass the trace on to EventBridge (the entry's `TraceHeader`).
 *
 * The Tracer and the X-Ray SDK are about 125 KB of a bundle and 11 to 27 ms of its cold start, so they
 * are loaded only when tracing can be on. A function deployed with `tracing: false` is bundled with
 * `process.env.WEBHOOKS_BUNDLE_TRACING` defined as "false" (TRACING_OFF_DEFINE): esbuild drops the
 * imports below, and the bundle holds no tracing code at all.
 */

/** What the bundling of a `tracing: false` function defines, so that the Tracer is left out of its bundle. */
export const TRACING_OFF_DEFINE: Readonly<Record<string, string>> = { 'process.env.WEBHOOKS_BUNDLE_TRACING': '"false"' };

/** A function's tracer: Powertools' Tracer, or one that traces nothing and patches nothing. */
export type FunctionTracer = Tracer | Untraced;

/** The tracer of a function that is not traced: clients pass through unchanged. */
export interface Untraced {
  isTracingEnabled(): false;
  captureAWSv3Client<T>(client: T): T;
}

const UNTRACED: Untraced = { isTracingEnabled: () => false, captureAWSv3Client: (client) => client };

/**
 * The function's tracer; its service is `POWERTOOLS_SERVICE_NAME`. Created once per execution
 * environment. The Tracer is not even loaded when the bundle leaves it out or the function's
 * `POWERTOOLS_TRACE_ENABLED` is `false`.
 */
export async function createTracer(): Promise<FunctionTracer> {
  // Defined "false", the outer condition is `if (false)`: a dead branch, whose import esbuild leaves out.
  if (process.env.WEBHOOKS_BUNDLE_TRACING !== 'false') {
    if (process.env.POWERTOOLS_TRACE_ENABLED !== 'false') {
      const { Tracer } = await import('@aws-lambda-powertools/tracer');
      // Responses are not kept as trace metadata: a consumer's or receiver's answer is not useful
      // there, and the rule of this code base is that no payload leaves the function.
      // Stryker disable next-line ObjectLiteral: capturing HTTP(S) requests is the Tracer's default; the option says so
      return new Tracer({ captureHTTPsRequests: true });
    }
  }
  return UNTRACED;
}

/** A client whose calls a tracer can record: every AWS SDK v3 client. */
export interface TraceableClient {
  readonly middlewareStack: { use(plugin: never): void };
}

/** The tracer of a function traced without the X-Ray SDK (the receiver's): its SDK calls, recorded. */
export interface SdkCallTracer {
  isTracingEnabled(): boolean;
  captureAWSv3Client<T extends TraceableClient>(client: T): T;
}

/** The first line of every document sent to the X-Ray daemon. */
const DAEMON_HEADER = '{"format":"json","version":1}\n';

/**
 * The receiver's tracer: Lambda's active tracing makes the function's segment, and this records
 * each AWS SDK call under it and passes the trace on with the call (functions/core/sdk-tracing.ts),
 * without the X-Ray SDK and its 125 KB. On under the conditions the Tracer has: in Lambda,
 * `POWERTOOLS_TRACE_ENABLED` not `false`, and the bundle not built with TRACING_OFF_DEFINE (which
 * leaves this code out of it).
 */
export async function createSdkCallTracer(env: NodeJS.ProcessEnv = process.env): Promise<SdkCallTracer> {
  if (process.env.WEBHOOKS_BUNDLE_TRACING !== 'false') {
    const inLambda = env.AWS_EXECUTION_ENV?.startsWith('AWS_Lambda_') === true && env.AWS_SAM_LOCAL !== 'true';
    if (inLambda && env.POWERTOOLS_TRACE_ENABLED !== 'false') {
      const { daemonAddress, sdkCallTracing } = await import('./sdk-tracing');
      const { host, port } = daemonAddress(env.AWS_XRAY_DAEMON_ADDRESS);
      // The socket is made when the first sampled call ends, not at init: an environment whose
      // invocations are not sampled never loads node:dgram.
      let socket: Promise<Socket> | undefined;
      const openSocket = async () => {
        const created = (await import('node:dgram')).createSocket('udp4');
        // A lost subsegment must never fail a delivery, nor keep the process alive.
        created.on('error', () => undefined);
        created.unref();
        return created;
      };
      const plugin = sdkCallTracing({
        traceHeader: () => env._X_AMZN_TRACE_ID,
        emit: (subsegment) => {
          socket ??= openSocket();
          const message = DAEMON_HEADER + JSON.stringify(subsegment);
          // As above: on any failure the trace loses a subsegment, the delivery goes on.
          socket.then((open) => open.send(message, port, host, () => undefined)).catch(() => undefined);
        },
      });
      return {
        isTracingEnabled: () => true,
        captureAWSv3Client: (client) => {
          client.middlewareStack.use(plugin as never);
          return client;
        },
      };
    }
  }
  return UNTRACED;
}

/** Whether a tracer traces (the Untraced one never does). */
function tracing(tracer: FunctionTracer): tracer is Tracer {
  return tracer.isTracingEnabled();
}

/**
 * The Lambda handler in a `## handler` subsegment with the cold-start and service annotations, its
 * error (never its response) as metadata. As Powertools' `captureLambdaHandler`, for a plain function.
 */
export function tracedHandler<E, R>(tracer: FunctionTracer, handler: (event: E, context: Context) => Promise<R>): (event: E, context: Context) => Promise<R> {
  if (!tracing(tracer)) return handler;
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
export function traced<T>(tracer: FunctionTracer, name: string, annotations: Readonly<Record<string, string>>, work: () => Promise<T>): Promise<T> {
  if (!tracing(tracer)) return work();
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
export function currentTraceHeader(tracer: FunctionTracer): string | undefined {
  if (!tracing(tracer)) return undefined;
  const header = process.env._X_AMZN_TRACE_ID;
  return header === undefined || header === '' ? undefined : header;
}
