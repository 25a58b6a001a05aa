import { randomBytes } from 'node:crypto';
import type { InitializeHandlerOptions, BuildHandlerOptions, MetadataBearer, Pluggable } from '@smithy/types';

/*
 * The receiver's tracing without the X-Ray SDK. With active tracing Lambda itself records the
 * function's segment and hands each invocation its trace header in `_X_AMZN_TRACE_ID`; what the X-Ray
 * SDK added on top, and what this keeps, is one subsegment per AWS SDK call (namespace `aws`, which
 * draws the DynamoDB, SQS and Secrets Manager nodes of the service map) and the trace header on the
 * call, pointing at that subsegment. A SendMessage also carries it as the message's `AWSTraceHeader`
 * system attribute: Lambda links the consumer's trace to it. The subsegments go to the X-Ray daemon
 * over UDP, as the SDK sends them. Not kept: the `## handler` subsegment and its annotations.
 */

/** An X-Ray subsegment document as the daemon takes it (independent: it names its trace and parent). */
export interface SubsegmentDocument {
  readonly type: 'subsegment';
  readonly id: string;
  readonly trace_id: string;
  readonly parent_id: string;
  readonly name: string;
  readonly namespace: 'aws';
  readonly start_time: number;
  end_time?: number;
  aws?: Record<string, string | number>;
  http?: { response: { status: number } };
  error?: boolean;
  fault?: boolean;
  throttle?: boolean;
}

/** What {@link sdkCallTracing} reads and writes through: the invocation's trace header, the clock, the daemon. */
export interface SdkCallTracingOptions {
  /** The current invocation's trace header (`_X_AMZN_TRACE_ID`). */
  readonly traceHeader: () => string | undefined;
  /** Sends one finished subsegment to the daemon. Never throws. */
  readonly emit: (subsegment: SubsegmentDocument) => void;
  /** Seconds since the epoch, as X-Ray counts time. */
  readonly nowSeconds?: () => number;
  /** A new 16-hex-digit subsegment id. */
  readonly newId?: () => string;
}

/** The fields of an X-Ray trace header (`Root=…;Parent=…;Sampled=…`, then anything else, kept in order). */
export function parseTraceHeader(header: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  return fields;
}

const MESSAGE_SENDS = new Set(['SendMessageCommand']);
/** Request fields worth seeing on a subsegment (the X-Ray SDK's whitelist keeps the same). */
const DESCRIPTORS: Readonly<Record<string, string>> = { QueueUrl: 'queue_url', TableName: 'table_name', SecretId: 'secret_id' };

interface CallState {
  readonly subsegment: SubsegmentDocument;
  readonly header: string;
}

/**
 * An SDK client plugin that records each call of a sampled invocation as a subsegment of the
 * function's segment and sends the call's trace header with it. Unsampled, or outside an
 * invocation, it does nothing: the SDK then passes Lambda's header on as it is.
 */
export function sdkCallTracing(options: SdkCallTracingOptions): Pluggable<object, MetadataBearer> {
  const nowSeconds = options.nowSeconds ?? (() => Date.now() / 1000);
  const newId = options.newId ?? (() => randomBytes(8).toString('hex'));
  const calls = new WeakMap<object, CallState>();
  return {
    applyToStack(stack) {
      stack.add(
        (next, context) => async (args) => {
          // Stryker disable next-line StringLiteral: any text without '=' parses to no field, as the empty one does
          const fields = parseTraceHeader(options.traceHeader() ?? '');
          const root = fields.get('Root');
          const parent = fields.get('Parent');
          if (root === undefined || parent === undefined || fields.get('Sampled') !== '1') return next(args);
          const id = newId();
          const rest = [...fields].filter(([key]) => key !== 'Root' && key !== 'Parent' && key !== 'Sampled').map(([key, value]) => `;${key}=${value}`);
          const header = `Root=${root};Parent=${id};Sampled=1${rest.join('')}`;
          // Stryker disable next-line StringLiteral: every SDK v3 client names itself and its command in the context
          const { clientName = 'Client', commandName = 'Command' } = context;
          const input = args.input as Record<string, unknown>;
          const subsegment: SubsegmentDocument = {
            type: 'subsegment',
            id,
            trace_id: root,
            parent_id: parent,
            // Stryker disable next-line Regex: no SDK v3 client name holds "Client" anywhere but at its end
            name: clientName.replace(/Client$/, ''),
            namespace: 'aws',
            start_time: nowSeconds(),
          };
          // Stryker disable next-line Regex: no SDK v3 command name holds "Command" anywhere but at its end
          const aws: Record<string, string | number> = { operation: commandName.replace(/Command$/, '') };
          for (const [field, name] of Object.entries(DESCRIPTORS)) if (typeof input[field] === 'string') aws[name] = input[field];
          if (MESSAGE_SENDS.has(commandName)) {
            const attributes = (input.MessageSystemAttributes ?? {}) as Record<string, unknown>;
            input.MessageSystemAttributes = { ...attributes, AWSTraceHeader: { DataType: 'String', StringValue: header } };
          }
          calls.set(context, { subsegment, header });
          try {
            const result = await next(args);
            finish(subsegment, aws, result.output);
            return result;
          } catch (error) {
            finish(subsegment, aws, error as MetadataBearer);
            throw error;
          } finally {
            options.emit(subsegment);
          }
        },
        { step: 'initialize', name: 'webhooksSdkCallTracing', override: true } satisfies InitializeHandlerOptions,
      );
      // On the HTTP request, ahead of the SDK's own recursion detection, which would send Lambda's header.
      stack.add(
        (next, context) => async (args) => {
          const call = calls.get(context);
          const request = args.request as { headers?: Record<string, string> } | undefined;
          // Stryker disable next-line OptionalChaining: at the build step every SDK call has an HTTP request
          if (call !== undefined && request?.headers !== undefined) request.headers['X-Amzn-Trace-Id'] = call.header;
          return next(args);
        },
        // Stryker disable next-line StringLiteral: from any later step the header still goes out with the request (it is never signed), and a nameless second copy writes the same value
        { step: 'build', name: 'webhooksSdkCallTraceHeader', override: true } satisfies BuildHandlerOptions,
      );
    },
  };

  function finish(subsegment: SubsegmentDocument, aws: Record<string, string | number>, outcome: MetadataBearer | undefined): void {
    subsegment.end_time = nowSeconds();
    // Stryker disable next-line OptionalChaining: an SDK call ends with an output or an error object, never with nothing
    const metadata = outcome?.$metadata;
    if (metadata?.requestId !== undefined) aws.request_id = metadata.requestId;
    aws.retries = Math.max(0, (metadata?.attempts ?? 1) - 1);
    subsegment.aws = aws;
    const status = metadata?.httpStatusCode;
    if (status !== undefined) subsegment.http = { response: { status } };
    if (status === 429) subsegment.throttle = true;
    if (status !== undefined && status >= 500) subsegment.fault = true;
    else if ((status !== undefined && status >= 400) || (outcome !== undefined && outcome instanceof Error && status === undefined)) subsegment.error = true;
  }
}

/**
 * Where the X-Ray daemon listens for segments, from `AWS_XRAY_DAEMON_ADDRESS` (`host:port`, or
 * `udp:host:port tcp:host:port` in either order, as Lambda sets it).
 */
export function daemonAddress(value = '127.0.0.1:2000'): { readonly host: string; readonly port: number } {
  const parts = value.trim().split(/\s+/);
  const udp = parts.find((part) => part.startsWith('udp:'))?.slice('udp:'.length) ?? parts.find((part) => !part.includes('tcp:')) ?? '';
  const at = udp.lastIndexOf(':');
  const port = Number(udp.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new Error(`AWS_XRAY_DAEMON_ADDRESS is "${value}"; expected host:port or "udp:host:port tcp:host:port"`);
  }
  return { host: udp.slice(0, at), port };
}
