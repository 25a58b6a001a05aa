import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ApplicationLogLevel, Architecture, LoggingFormat, Runtime, SystemLogLevel, Tracing, type CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { packageFile } from '../../functions/core/package-root';
import { TRACING_OFF_DEFINE } from '../../functions/core/tracing';
import { acknowledgeGuardRule, GUARD_REASONS } from './guard';

/** The Lambda runtime of every function: the newest Node.js that Lambda runs. */
export const FUNCTION_RUNTIME = Runtime.NODEJS_24_X;

/**
 * Prepended to every bundle. Some dependencies are CommonJS and `require()` Node built-ins;
 * inside an ESM bundle esbuild turns that into a throwing shim ("Dynamic require of node:https
 * is not supported") unless a real `require` exists in module scope.
 */
export const ESM_REQUIRE_BANNER = "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

/**
 * esbuild aliases of every bundle: the SDK clients' default credential chain resolves to the
 * environment-only provider, which is all Lambda needs (functions/core/env-credentials.ts).
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': packageFile('functions/core/env-credentials.ts'),
};

const stub = (name: string) => packageFile(`functions/core/bundle-stubs/${name}.ts`);

/**
 * esbuild aliases of the receiver's bundle, on top of {@link BUNDLE_ALIASES}: SDK code that its
 * DynamoDB, SQS and Secrets Manager clients carry but never run there (event streams, the
 * pure-JavaScript hashes, DynamoDB endpoint discovery), each replaced by a stub that says why
 * (functions/core/bundle-stubs/). About 30 KB of its bundle.
 */
export const RECEIVER_BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  '@smithy/core/event-streams': stub('event-streams'),
  '@smithy/core/checksum': stub('checksum'),
  '@aws-sdk/middleware-endpoint-discovery': stub('endpoint-discovery'),
};

/** The level of the functions' own log lines (Powertools Logger and Lambda's application log level alike). */
export type FunctionLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** Properties of {@link BundledFunction}. */
export interface BundledFunctionProps {
  /** The TypeScript file that exports `handler`. */
  readonly entry: string;
  /** One line saying what the function does, shown in the Lambda console. */
  readonly description: string;
  readonly timeout: Duration;
  /**
   * Memory, in MiB. CPU scales with memory; HMAC verification and SDK start-up are CPU-bound.
   * @default 256
   */
  readonly memorySize?: number;
  /** The function's own variables; the Powertools and source-map variables are added to these. */
  readonly environment: Readonly<Record<string, string>>;
  /** `POWERTOOLS_SERVICE_NAME`: the `service` field of every log line and metric. */
  readonly serviceName: string;
  /** `POWERTOOLS_METRICS_NAMESPACE`. */
  readonly metricsNamespace: string;
  /**
   * `POWERTOOLS_LOG_LEVEL`, and Lambda's application log level to match. Lambda's own platform
   * lines (START, END, REPORT) are kept at WARN whatever this says: they are half the log bytes
   * of an invocation and repeat what the Lambda metrics already count.
   * @default 'INFO'
   */
  readonly logLevel?: FunctionLogLevel;
  readonly logRetention: RetentionDays;
  /** Applied to the log group. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * X-Ray: active tracing and the function's tracer (`POWERTOOLS_TRACE_ENABLED`: Powertools' Tracer,
   * or the receiver's SDK-call tracing); false leaves the function on PassThrough, and its bundle
   * without the tracing code (nothing patched, nothing loaded).
   * @default true
   */
  readonly tracing?: boolean;
  /**
   * esbuild aliases added to {@link BUNDLE_ALIASES} for this function's bundle alone: a
   * consumer's `#steps` is pointed at the construct's `steps` module this way, and the receiver
   * leaves out SDK code it never runs ({@link RECEIVER_BUNDLE_ALIASES}).
   * @default - none
   */
  readonly aliases?: Readonly<Record<string, string>>;
}

/**
 * A Node.js function bundled locally by esbuild into one minified ESM file with a source map,
 * on ARM64, with its own log group (so retention is set by the stack, not by a custom resource)
 * and its own role that starts with nothing but the right to write to that log group: every
 * other permission is added with `grant*` by whoever wires the function up.
 */
export class BundledFunction extends Construct {
  /** The function. */
  public readonly handler: NodejsFunction;
  /** Where the function logs. */
  public readonly logGroup: LogGroup;
  /** The execution role; grant to this (or to `handler`). */
  public readonly role: Role;
  /** The role's X-Ray permissions (both tracing modes send traces: PassThrough when the caller samples). */
  public readonly tracingPolicy: Policy;

  constructor(scope: Construct, id: string, props: BundledFunctionProps) {
    super(scope, id);

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    acknowledgeGuardRule(this.logGroup, 'cloudwatch_log_group_encrypted_check', GUARD_REASONS.logKey);

    // An own role instead of the AWSLambdaBasicExecutionRole managed policy, whose log
    // permissions cover every log group in the account.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    this.logGroup.grantWrite(this.role);
    const tracing = props.tracing ?? true;

    this.handler = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: FUNCTION_RUNTIME,
      architecture: Architecture.ARM_64,
      timeout: props.timeout,
      memorySize: props.memorySize ?? 256,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: ApplicationLogLevel[props.logLevel ?? 'INFO'],
      systemLogLevelV2: SystemLogLevel.WARN,
      environment: {
        ...props.environment,
        // No NODE_OPTIONS=--enable-source-maps: parsing the 3.5 MB map costs ~20 ms on every cold
        // start (npm run bench). The map is still built beside the bundle for decoding a trace.
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        POWERTOOLS_TRACE_ENABLED: String(tracing),
      },
      bundling: {
        // The handlers use top-level await, which only ES modules allow.
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        // The SDK is bundled rather than taken from the runtime: the version that runs is the one
        // the tests ran, and the bundle loads anywhere (the bundle smoke test loads it in plain Node).
        bundleAwsSDK: true,
        // esbuild comes from node_modules; bundling never needs Docker.
        forceDockerBundling: false,
        esbuildArgs: { '--alias': Object.entries({ ...BUNDLE_ALIASES, ...props.aliases }).map(([from, to]) => `${from}=${to}`) },
        // Untraced, the bundle leaves the tracing code out (functions/core/tracing.ts).
        ...(tracing ? {} : { define: { ...TRACING_OFF_DEFINE } }),
      },
    });

    // The tracing mode is set here rather than with the `tracing` prop, which would add the X-Ray
    // statement (resource `*`) to the role's default policy, beside every grant made to the
    // function later: its own policy keeps the acknowledgement below to that one statement.
    (this.handler.node.defaultChild as CfnFunction).tracingConfig = { mode: tracing ? Tracing.ACTIVE : Tracing.PASS_THROUGH };
    this.tracingPolicy = new Policy(this, 'TracingPolicy', {
      statements: [new PolicyStatement({ actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] })],
    });
    this.tracingPolicy.attachToRole(this.role);
    this.handler.node.addDependency(this.tracingPolicy);
    acknowledgeGuardRule(this.handler, 'lambda_inside_vpc_check', GUARD_REASONS.noVpc);
    Validations.of(this.tracingPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Sending traces to X-Ray: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so their resource can only be "*". This policy holds nothing else.',
    });
  }
}
