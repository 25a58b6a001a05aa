import { CfnWaitConditionHandle, Duration, RemovalPolicy, Stack, type App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LEASE_SECONDS, MAX_BODY_BYTES_LIMIT } from '../../functions/core/config';
import { PROVIDER_NAMES } from '../../functions/core/event';
import { QUEUE_SETTINGS } from '../../functions/core/queues';
import { ROUTES, routeSlug } from '../../functions/core/routes';
import { EVENTS_TABLE, JOB_HISTORY_TABLE, JOBS_TABLE } from '../../functions/core/table';
import { CONSUMER_BATCHING_WINDOW, OPERATOR_TAG } from '../../infra/constructs/route-pipeline';
import { ACCEPT_WORST_CASE_SECONDS } from '../../infra/constructs/receiver-budget';
import { DEFAULT_THROTTLING_BURST_LIMIT, DEFAULT_THROTTLING_RATE_LIMIT } from '../../infra/constructs/receiver-settings';
import { STACK_OUTPUTS } from '../../functions/core/stack-outputs';
import { receiverPropsFromContext, type WebhookReceiverStack } from '../../infra/stack';
import { arnOf, logicalId, ref, testApp, testStack } from './app';

let stack: WebhookReceiverStack;
let template: Template;

beforeAll(() => {
  stack = testStack();
  template = Template.fromStack(stack);
});

/** The IAM statements attached to a function's role. */
function statementsOf(roleLogicalId: string): unknown[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: roleLogicalId }]) },
  });
  return Object.values(policies).flatMap((policy) => (policy as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument.Statement);
}

/** Another stack of the app, for imported resources (CloudFormation rejects an empty template). */
function sharedStack(app: App): Stack {
  const shared = new Stack(app, 'Shared');
  new CfnWaitConditionHandle(shared, 'Placeholder');
  return shared;
}

/** A JSON document built by `Stack.toJsonString` (an `Fn::Join`), parsed, each `Ref` shown as `{Ref:id}`. */
function joinedJson(value: unknown): unknown {
  const join = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  const text = join[1].map((part) => (typeof part === 'string' ? part : `{Ref:${(part as { Ref: string }).Ref}}`)).join(join[0]);
  return JSON.parse(text);
}

describe('functions', () => {
  it('runs every function on Node.js 24, ARM64, with the Powertools settings and no source-map parsing at load', () => {
    template.allResourcesProperties(
      'AWS::Lambda::Function',
      Match.objectLike({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Environment: {
          Variables: Match.objectLike({
            NODE_OPTIONS: Match.absent(),
            POWERTOOLS_SERVICE_NAME: Match.stringLikeRegexp('.+'),
            POWERTOOLS_METRICS_NAMESPACE: 'WebhookReceiver',
            POWERTOOLS_LOG_LEVEL: 'INFO',
          }),
        },
      }),
    );
  });

  it('gives every function its own log group with a retention', () => {
    const functions = [stack.webhooks.receiver, ...ROUTES.map((route) => stack.webhooks.consumers[route])];
    const resources = template.toJSON().Resources;
    for (const fn of functions) {
      expect(resources[logicalId(fn.handler)].Properties.LoggingConfig).toEqual({
        LogGroup: ref(fn.logGroup),
        LogFormat: 'JSON',
        ApplicationLogLevel: 'INFO',
        SystemLogLevel: 'WARN',
      });
      expect(resources[logicalId(fn.logGroup)]).toMatchObject({ DeletionPolicy: 'Retain', Properties: { RetentionInDays: 365 } });
    }
  });

  it('logLevel sets the level of every function: Powertools and Lambda alike, platform lines kept at WARN', () => {
    const quiet = Template.fromStack(testStack({ receiver: { logLevel: 'WARN', togetherPolling: { enabled: true } } }));

    quiet.allResourcesProperties(
      'AWS::Lambda::Function',
      Match.objectLike({
        LoggingConfig: Match.objectLike({ LogFormat: 'JSON', ApplicationLogLevel: 'WARN', SystemLogLevel: 'WARN' }),
        Environment: { Variables: Match.objectLike({ POWERTOOLS_LOG_LEVEL: 'WARN' }) },
      }),
    );
    expect(() => testStack({ receiver: { logLevel: 'LOUD' as never } })).toThrow('logLevel must be one of DEBUG, INFO, WARN, ERROR, got "LOUD"');
  });

  it('uses no AWS managed policy: each role starts empty and is granted what it uses', () => {
    template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  it('writes logs only to the function’s own log group', () => {
    const receiver = stack.webhooks.receiver;
    expect(statementsOf(logicalId(receiver.role))).toContainEqual({
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Effect: 'Allow',
      Resource: arnOf(receiver.logGroup),
    });
  });
});

describe('receiver', () => {
  it('times out after its AWS calls can (so a slow dependency is a 503) and before the lease an in-progress event holds', () => {
    const fn = template.toJSON().Resources[logicalId(stack.webhooks.receiver.handler)];
    expect(fn.Properties.Timeout).toBe(29);
    expect(fn.Properties.Timeout).toBeGreaterThan(ACCEPT_WORST_CASE_SECONDS);
    expect(fn.Properties.Timeout).toBeLessThan(DEFAULT_LEASE_SECONDS);
  });

  it('is configured with the table, every route queue, every secret ARN and the defaults', () => {
    const variables = template.toJSON().Resources[logicalId(stack.webhooks.receiver.handler)].Properties.Environment.Variables;
    expect(joinedJson(variables.QUEUE_URLS)).toEqual(
      Object.fromEntries(ROUTES.map((route) => [route, `{Ref:${logicalId(stack.webhooks.queues[route])}}`])),
    );
    expect(joinedJson(variables.SECRET_ARNS)).toEqual(
      Object.fromEntries(PROVIDER_NAMES.map((provider) => [provider, `{Ref:${logicalId(stack.webhooks.secrets.get(provider)!)}}`])),
    );
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: ref(stack.webhooks.table),
          PROVIDERS: PROVIDER_NAMES.join(','),
          TOGETHER_SIGNATURE_SCHEME: 'timestamped',
          MAX_BODY_BYTES: '262144',
          RETENTION_DAYS: '7',
          POWERTOOLS_SERVICE_NAME: 'receiver',
        }),
      },
    });
  });

  it('puts no secret value in any environment, only secret ARNs', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(functions)) {
      const variables = (fn as { Properties: { Environment: { Variables: Record<string, unknown> } } }).Properties.Environment.Variables;
      const names = Object.keys(variables);
      // `…_SECRET_ARN` (the OpenAI key's, on OpenAI's routes) names a secret by its ARN: a reference, never a value.
      expect(names.filter((name) => /WEBHOOK_SECRET|API_KEY/.test(name) && !name.endsWith('_SECRET_ARN'))).toEqual([]);
      for (const name of names.filter((name) => name.endsWith('_SECRET_ARN'))) expect(variables[name], name).toEqual({ Ref: expect.any(String) });
    }
  });

  it('may do exactly the item operations of the accept path on the events table, and nothing on its index', () => {
    expect(statementsOf(logicalId(stack.webhooks.receiver.role))).toContainEqual({
      Action: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      Effect: 'Allow',
      Resource: arnOf(stack.webhooks.table),
    });
    expect(JSON.stringify(statementsOf(logicalId(stack.webhooks.receiver.role)))).not.toContain('/index/');
  });

  it('may send to every route queue', () => {
    expect(statementsOf(logicalId(stack.webhooks.receiver.role))).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['sqs:SendMessage']),
        Resource: expect.arrayContaining(ROUTES.map((route) => arnOf(stack.webhooks.queues[route]))),
      }),
    );
  });

  it('may read every provider secret', () => {
    expect(statementsOf(logicalId(stack.webhooks.receiver.role))).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['secretsmanager:GetSecretValue']),
        Resource: expect.arrayContaining(PROVIDER_NAMES.map((provider) => ref(stack.webhooks.secrets.get(provider)!))),
      }),
    );
  });
});

describe('consumers', () => {
  it.each(ROUTES)('consumes %s with its own function, configured for the route', (route) => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Timeout: QUEUE_SETTINGS.consumerTimeoutSeconds,
      Environment: {
        Variables: Match.objectLike({
          ROUTE: route,
          TABLE_NAME: ref(stack.webhooks.table),
          JOBS_TABLE_NAME: ref(stack.webhooks.jobsTable),
          JOB_HISTORY_TABLE_NAME: ref(stack.webhooks.jobHistoryTable),
          ALERTS_TOPIC_ARN: ref(stack.webhooks.alertsTopic),
          RETENTION_DAYS: '7',
          POWERTOOLS_SERVICE_NAME: `consumer-${routeSlug(route)}`,
        }),
      },
    });
  });

  it.each(ROUTES)('triggers the %s consumer from its queue in batches with partial failures and no filter', (route) => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arnOf(stack.webhooks.queues[route]),
      FunctionName: ref(stack.webhooks.consumers[route].handler),
      BatchSize: QUEUE_SETTINGS.batchSize,
      MaximumBatchingWindowInSeconds: CONSUMER_BATCHING_WINDOW.toSeconds(),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('filters no event source: Lambda would delete the messages that do not match', () => {
    template.allResourcesProperties('AWS::Lambda::EventSourceMapping', { FilterCriteria: Match.absent() });
  });

  it('lets each consumer receive from its own queue, write both tables by key and publish alerts', () => {
    const consumer = stack.webhooks.consumers.other;
    const statements = statementsOf(logicalId(consumer.role));
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']),
        Resource: arnOf(stack.webhooks.queues.other),
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:UpdateItem']),
        Resource: [arnOf(stack.webhooks.table), arnOf(stack.webhooks.jobsTable)],
      }),
    );
    expect(statements).toContainEqual({ Action: 'sns:Publish', Effect: 'Allow', Resource: ref(stack.webhooks.alertsTopic) });
    expect(JSON.stringify(statements)).not.toContain(logicalId(stack.webhooks.queues['fine_tune.completed']));
  });

  it('[H3-14] may only read and update items by key on both tables, and query and put job-history items, as the consumer code does', () => {
    const role = stack.webhooks.consumers.other.role;

    const statements = JSON.stringify(statementsOf(logicalId(role)));

    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [ref(role)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
            Resource: [arnOf(stack.webhooks.table), arnOf(stack.webhooks.jobsTable)],
          }),
          Match.objectLike({
            Action: ['dynamodb:PutItem', 'dynamodb:Query'],
            Resource: arnOf(stack.webhooks.jobHistoryTable),
          }),
        ]),
      },
    });
    expect(statements.match(/dynamodb:\w+/g)?.sort()).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
  });
});

describe('queues', () => {
  it.each(ROUTES)('redrives %s to its own dead-letter queue', (route) => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: QUEUE_SETTINGS.visibilityTimeoutSeconds,
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: arnOf(stack.webhooks.deadLetterQueues[route]),
        maxReceiveCount: QUEUE_SETTINGS.maxReceiveCount,
      },
    });
  });

  it('pins the largest message size of every queue and dead-letter queue to the SQS maximum', () => {
    for (const route of ROUTES) {
      const resources = template.toJSON().Resources;
      expect(resources[logicalId(stack.webhooks.queues[route])].Properties.MaximumMessageSize).toBe(1_048_576);
      expect(resources[logicalId(stack.webhooks.deadLetterQueues[route])].Properties.MaximumMessageSize).toBe(1_048_576);
    }
  });

  it('keeps dead letters 14 days, encrypted', () => {
    for (const route of ROUTES) {
      const dlq = template.toJSON().Resources[logicalId(stack.webhooks.deadLetterQueues[route])];
      expect(dlq.Properties).toMatchObject({ MessageRetentionPeriod: 14 * 24 * 3600, SqsManagedSseEnabled: true });
    }
  });

  it('sets the visibility timeout to at least six times the consumer timeout', () => {
    const queue = template.toJSON().Resources[logicalId(stack.webhooks.queues['fine_tune.completed'])];
    const consumer = template.toJSON().Resources[logicalId(stack.webhooks.consumers['fine_tune.completed'].handler)];
    expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * consumer.Properties.Timeout);
  });

  it('refuses any request to any queue that is not over TLS', () => {
    for (const route of ROUTES) {
      for (const queue of [stack.webhooks.queues[route], stack.webhooks.deadLetterQueues[route]]) {
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [ref(queue)],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            ]),
          },
        });
      }
    }
  });

  it.each(ROUTES)('[H3-9] refuses SendMessage to the %s queue from any principal but the receiver and tagged operators', (route) => {
    const queue = stack.webhooks.queues[route];

    const policies = template.findResources('AWS::SQS::QueuePolicy', { Properties: { Queues: [ref(queue)] } });

    expect(Object.values(policies).flatMap((policy) => (policy as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument.Statement)).toContainEqual({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'sqs:SendMessage',
      Resource: arnOf(queue),
      Condition: {
        ArnNotEquals: { 'aws:PrincipalArn': [arnOf(stack.webhooks.receiver.role)] },
        StringNotEquals: { [`aws:PrincipalTag/${OPERATOR_TAG.key}`]: OPERATOR_TAG.value },
      },
    });
  });

  it('[H3-9] lets the poller send to the route queues too, when it is deployed', () => {
    const polling = testStack({ receiver: { togetherPolling: { enabled: true } } });
    const poller = polling.webhooks.poller?.function.role;

    const policy = Template.fromStack(polling).findResources('AWS::SQS::QueuePolicy', { Properties: { Queues: [ref(polling.webhooks.queues.other)] } });

    expect(JSON.stringify(policy)).toContain(JSON.stringify({ 'aws:PrincipalArn': [arnOf(polling.webhooks.receiver.role), arnOf(poller!)] }));
  });

  it('retains the queues by default', () => {
    template.hasResource('AWS::SQS::Queue', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ RedrivePolicy: Match.anyValue() }) });
    template.hasResource('AWS::SQS::Queue', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ MessageRetentionPeriod: 1209600 }) });
  });
});

describe('tables', () => {
  it('keys events by {provider}#{eventId}, expires them by TTL and lists them by day', () => {
    const index = EVENTS_TABLE.byTimeIndex;
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: EVENTS_TABLE.partitionKey, KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: EVENTS_TABLE.ttlAttribute, Enabled: true },
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projectedAttributes] },
        }),
      ],
    });
  });

  it('makes the three tables on-demand, point-in-time recoverable, encrypted and retained', () => {
    for (const table of [stack.webhooks.table, stack.webhooks.jobsTable, stack.webhooks.jobHistoryTable]) {
      const resource = template.toJSON().Resources[logicalId(table)];
      expect(resource).toMatchObject({
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          BillingMode: 'PAY_PER_REQUEST',
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          SSESpecification: { SSEEnabled: true },
        },
      });
    }
  });

  it('keys jobs by their partition key and lists them through a day index of keys and kind only', () => {
    const index = JOBS_TABLE.byActiveDayIndex;
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: JOBS_TABLE.partitionKey, KeyType: 'HASH' }],
      TimeToLiveSpecification: Match.absent(),
      GlobalSecondaryIndexes: [
        {
          IndexName: index.name,
          KeySchema: [{ AttributeName: index.partitionKey, KeyType: 'HASH' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.projectedAttributes] },
        },
      ],
    });
  });
});

describe('secrets', () => {
  it.each(PROVIDER_NAMES)('creates the %s secret as an empty list, retained', (provider) => {
    template.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ SecretString: '[]', Description: Match.stringLikeRegexp(`^Active ${provider} `) }),
    });
  });
});

describe('API', () => {
  it('routes ANY /webhooks/{provider} to the receiver, so that the function answers 405 itself', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'ANY /webhooks/{provider}' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: arnOf(stack.webhooks.receiver.handler),
    });
  });

  it('throttles and access-logs the default stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: DEFAULT_THROTTLING_RATE_LIMIT, ThrottlingBurstLimit: DEFAULT_THROTTLING_BURST_LIMIT },
      AccessLogSettings: { DestinationArn: arnOf(stack.webhooks.accessLogs!), Format: Match.stringLikeRegexp('\\$context\\.requestId') },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  it('lets only this API invoke the receiver', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: arnOf(stack.webhooks.receiver.handler),
      SourceArn: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([{ Ref: logicalId(stack.webhooks.api!) }, '/*/*/webhooks/{provider}'])] }),
    });
  });
});

describe("endpoint: 'functionUrl'", () => {
  let lean: WebhookReceiverStack;
  let leanTemplate: Template;
  beforeAll(() => {
    lean = testStack({ receiver: { endpoint: 'functionUrl', functionUrlConcurrency: 25 } });
    leanTemplate = Template.fromStack(lean);
  });

  it('puts a public function URL on the receiver instead of the HTTP API, and no access log group', () => {
    leanTemplate.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', TargetFunctionArn: arnOf(lean.webhooks.receiver.handler) });
    leanTemplate.resourceCountIs('AWS::ApiGatewayV2::Api', 0);
    leanTemplate.resourceCountIs('AWS::ApiGatewayV2::Stage', 0);
    expect(lean.webhooks.api).toBeUndefined();
    expect(lean.webhooks.accessLogs).toBeUndefined();
  });

  it('throttles by the receiver\'s reserved concurrency', () => {
    const receiver = leanTemplate.toJSON().Resources[logicalId(lean.webhooks.receiver.handler)];
    expect(receiver.Properties.ReservedConcurrentExecutions).toBe(25);
    expect(template.toJSON().Resources[logicalId(stack.webhooks.receiver.handler)].Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('gives each provider\'s webhook URL on the function URL, and alarms on its 5xx answers', () => {
    leanTemplate.hasOutput(STACK_OUTPUTS.webhookUrl('together'), {
      Value: { 'Fn::Join': ['', ['https://', Match.objectLike({ 'Fn::Select': Match.anyValue() }), '/webhooks/together']] },
    });
    const url = JSON.stringify(leanTemplate.toJSON().Outputs[STACK_OUTPUTS.webhookUrl('together')].Value);
    expect(url).toContain(logicalId(lean.webhooks.functionUrl!));
    leanTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Url5xxCount',
      Dimensions: [{ Name: 'FunctionName', Value: ref(lean.webhooks.receiver.handler) }],
    });
  });

  it('refuses the HTTP API throttle with a function URL, and the concurrency without one', () => {
    expect(() => testStack({ receiver: { endpoint: 'functionUrl', throttlingRateLimit: 5 } })).toThrow(
      "throttlingRateLimit and throttlingBurstLimit apply to the HTTP API; with endpoint: 'functionUrl' set functionUrlConcurrency",
    );
    expect(() => testStack({ receiver: { functionUrlConcurrency: 5 } })).toThrow("functionUrlConcurrency applies to endpoint: 'functionUrl' only");
  });
});

describe('topics', () => {
  it('encrypts the alerts topic and requires TLS to publish', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::Join': ['', Match.arrayWith([':alias/aws/sns'])] },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [ref(stack.webhooks.alertsTopic)],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('alarm notifications may arrive: the alarm topic lets CloudWatch of this account publish, and still refuses publishing without TLS', () => {
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [ref(stack.webhooks.alarmTopic as Topic)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: ref(stack.webhooks.alarmTopic as Topic),
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
  });

  it('subscribes the alarm e-mail to a new alarm topic', () => {
    const withEmail = Template.fromStack(testStack({ receiver: { alarmEmail: 'ops@example.com' } }));
    withEmail.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('sends alarms to an existing topic instead of creating one', () => {
    const app = testApp();
    const existingArn = 'arn:aws:sns:eu-west-1:123456789012:ops-alarms';
    const existing = Topic.fromTopicArn(sharedStack(app), 'Existing', existingArn);
    const withTopic = Template.fromStack(testStack({ receiver: { alarmTopic: existing } }, app));
    expect(Object.keys(withTopic.findResources('AWS::SNS::Topic'))).toHaveLength(1);
    withTopic.allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: [existingArn] });
  });
});

describe('alarms and dashboard', () => {
  const alarmTopic = () => ref(stack.webhooks.alarmTopic as Topic);

  it.each(ROUTES)('alarms on any dead letter of %s', (route) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.webhooks.deadLetterQueues[route]), 'QueueName'] } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [alarmTopic()],
    });
  });

  it.each(ROUTES)('alarms when the oldest message of %s is too old', (route) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.webhooks.queues[route]), 'QueueName'] } }],
      Threshold: Duration.minutes(10).toSeconds(),
      AlarmActions: [alarmTopic()],
    });
  });

  it.each(ROUTES)('[H3-9] alarms on any message of %s whose event has no record (NoRecord)', (route) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'WebhookReceiver',
      MetricName: 'NoRecord',
      Dimensions: Match.arrayWith([{ Name: 'route', Value: route }, { Name: 'service', Value: 'consumer' }]),
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [alarmTopic()],
    });
  });

  it('alarms on receiver errors and on API 5xx', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: ref(stack.webhooks.receiver.handler) }],
      AlarmActions: [alarmTopic()],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5xx',
      Dimensions: [{ Name: 'ApiId', Value: ref(stack.webhooks.api!) }],
      AlarmActions: [alarmTopic()],
    });
  });

  /** The receiver's `Rejected` metric of one provider and reason, as its EMF line publishes it. */
  const rejected = (provider: string, reason: string) => ({
    Namespace: 'WebhookReceiver',
    MetricName: 'Rejected',
    Dimensions: [
      { Name: 'provider', Value: provider },
      { Name: 'reason', Value: reason },
      { Name: 'service', Value: 'receiver' },
    ],
    Statistic: 'Sum',
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
    AlarmActions: [alarmTopic()],
    OKActions: [alarmTopic()],
  });
  const secretArnIn = (provider: (typeof PROVIDER_NAMES)[number]) =>
    Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([ref(stack.webhooks.secrets.get(provider) as never)])] });

  it.each(PROVIDER_NAMES)('a signed-looking %s delivery while its secret is unset raises its own alarm, which names the missing secret', (provider) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...rejected(provider, 'secret_not_set'),
      AlarmDescription: secretArnIn(provider),
    });
  });

  it.each(PROVIDER_NAMES)('forgery with a degenerate Standard Webhooks secret: a refused %s secret raises an alarm that names it', (provider) => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...rejected(provider, 'secret_invalid'),
      AlarmDescription: secretArnIn(provider),
    });
  });

  it('keeps the secret alarms apart from the API 5xx alarm and lists them with the others', () => {
    const secretAlarms = template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'Rejected' } });
    expect(Object.keys(secretAlarms)).toHaveLength(PROVIDER_NAMES.length * 2);
    expect(stack.webhooks.alarms.map((alarm) => logicalId(alarm))).toEqual(expect.arrayContaining(Object.keys(secretAlarms)));
  });

  it('has a dashboard', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardBody: Match.anyValue() });
  });
});

describe('job-history table', () => {
  it('[HIST] keys a job\'s history items by the job\'s key and a sort key, beside the jobs table, whose key schema stays its partition key alone', () => {
    const resources = template.toJSON().Resources;

    expect(resources[logicalId(stack.webhooks.jobHistoryTable)].Properties).toMatchObject({
      KeySchema: [
        { AttributeName: JOB_HISTORY_TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: JOB_HISTORY_TABLE.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: JOB_HISTORY_TABLE.partitionKey, AttributeType: 'S' },
        { AttributeName: JOB_HISTORY_TABLE.sortKey, AttributeType: 'S' },
      ],
    });
    expect(resources[logicalId(stack.webhooks.jobsTable)].Properties.KeySchema).toEqual([{ AttributeName: JOBS_TABLE.partitionKey, KeyType: 'HASH' }]);
  });

  it('[HIST] gives its name to every consumer and as a stack output', () => {
    template.hasOutput(STACK_OUTPUTS.jobHistoryTableName, { Value: ref(stack.webhooks.jobHistoryTable) });
    for (const route of ROUTES) {
      const fn = template.toJSON().Resources[logicalId(stack.webhooks.consumers[route].handler)];
      expect(fn.Properties.Environment.Variables.JOB_HISTORY_TABLE_NAME).toEqual(ref(stack.webhooks.jobHistoryTable));
    }
  });
});

describe('outputs', () => {
  it.each(PROVIDER_NAMES)('gives the %s webhook URL and secret ARN', (provider) => {
    template.hasOutput(STACK_OUTPUTS.webhookUrl(provider), {
      Value: { 'Fn::Join': ['', Match.arrayWith([`/webhooks/${provider}`])] },
    });
    template.hasOutput(STACK_OUTPUTS.secretArn(provider), { Value: ref(stack.webhooks.secrets.get(provider)!) });
  });

  it('names the providers in PascalCase, e.g. WebhookUrlTogether', () => {
    template.hasOutput('WebhookUrlTogether', Match.anyValue());
    template.hasOutput('SecretArnMythicdot', Match.anyValue());
  });

  it.each(ROUTES)('gives the URL and ARN of the %s queue and dead-letter queue', (route) => {
    template.hasOutput(STACK_OUTPUTS.queueUrl(route), { Value: ref(stack.webhooks.queues[route]) });
    template.hasOutput(STACK_OUTPUTS.queueArn(route), { Value: arnOf(stack.webhooks.queues[route]) });
    template.hasOutput(STACK_OUTPUTS.deadLetterQueueUrl(route), { Value: ref(stack.webhooks.deadLetterQueues[route]) });
    template.hasOutput(STACK_OUTPUTS.deadLetterQueueArn(route), { Value: arnOf(stack.webhooks.deadLetterQueues[route]) });
  });

  it('gives the table names and the alerts topic', () => {
    template.hasOutput('EventsTableName', { Value: ref(stack.webhooks.table) });
    template.hasOutput('JobsTableName', { Value: ref(stack.webhooks.jobsTable) });
    template.hasOutput('AlertsTopicArn', { Value: ref(stack.webhooks.alertsTopic) });
    template.hasOutput('QueueUrlFineTuneCompleted', Match.anyValue());
  });
});

describe('props', () => {
  it('serves only the enabled providers, with their secrets and URLs', () => {
    const only = testStack({ receiver: { providers: ['together', 'standard'], togetherSignatureScheme: 'body' } });
    const onlyTemplate = Template.fromStack(only);
    onlyTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ PROVIDERS: 'together,standard', TOGETHER_SIGNATURE_SCHEME: 'body' }) },
    });
    expect(Object.keys(onlyTemplate.findResources('AWS::SecretsManager::Secret'))).toHaveLength(2);
    expect(Object.keys(onlyTemplate.toJSON().Outputs)).not.toContain('WebhookUrlLlmtune');
  });

  it('deletes the stateful resources when asked to', () => {
    const disposable = Template.fromStack(testStack({ receiver: { removalPolicy: RemovalPolicy.DESTROY } }));
    disposable.allResources('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    disposable.allResources('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete' });
    disposable.allResources('AWS::SQS::Queue', { DeletionPolicy: 'Delete' });
  });

  it('sets the body cap, the retention and the throttling', () => {
    const tuned = Template.fromStack(
      testStack({ receiver: { maxBodyBytes: 65_536, retentionDays: 30, throttlingRateLimit: 5, throttlingBurstLimit: 10 } }),
    );
    tuned.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ MAX_BODY_BYTES: '65536', RETENTION_DAYS: '30' }) },
    });
    tuned.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 } });
  });

  it('refuses a body cap the events table could not store', () => {
    expect(() => testStack({ receiver: { maxBodyBytes: MAX_BODY_BYTES_LIMIT + 1 } })).toThrow(`maxBodyBytes must be a whole number from 1 to ${MAX_BODY_BYTES_LIMIT}`);
  });

  it('refuses a retention shorter than 7 days', () => {
    expect(() => testStack({ receiver: { retentionDays: 3 } })).toThrow(/retentionDays must be a whole number from 7/);
  });

  it('refuses a Together signature scheme the provider does not define', () => {
    expect(() => testStack({ receiver: { togetherSignatureScheme: 'v2' } })).toThrow(/togetherSignatureScheme must be one of timestamped \| body/);
  });

  it('refuses an unknown provider', () => {
    expect(() => testStack({ receiver: { providers: ['fireworks' as never] } })).toThrow(/unknown provider "fireworks"/);
  });

  it('refuses an alarm e-mail together with an existing alarm topic', () => {
    const app = testApp();
    const existing = Topic.fromTopicArn(sharedStack(app), 'Existing', 'arn:aws:sns:eu-west-1:123456789012:ops-alarms');
    expect(() => testStack({ receiver: { alarmTopic: existing, alarmEmail: 'ops@example.com' } }, app)).toThrow(/not both/);
  });

  it('reads the settings from CDK context, as given on the command line', () => {
    const context: Record<string, string> = {
      providers: 'together, llmtune',
      togetherSignatureScheme: 'body',
      maxBodyBytes: '100000',
      retentionDays: '14',
      removalPolicy: 'destroy',
      alarmEmail: 'ops@example.com',
    };
    expect(receiverPropsFromContext((key) => context[key])).toMatchObject({
      providers: ['together', 'llmtune'],
      togetherSignatureScheme: 'body',
      maxBodyBytes: 100_000,
      retentionDays: 14,
      removalPolicy: RemovalPolicy.DESTROY,
      alarmEmail: 'ops@example.com',
    });
  });

  it('refuses a removal policy other than retain or destroy in context', () => {
    expect(() => receiverPropsFromContext((key) => (key === 'removalPolicy' ? 'snapshot' : undefined))).toThrow(/retain or destroy/);
  });
});
