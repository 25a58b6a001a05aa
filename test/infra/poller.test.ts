import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Schedule } from 'aws-cdk-lib/aws-events';
import type { Topic } from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/core/routes';
import { observeBatch, observeFineTune } from '../../functions/poller/observe';
import { POLLER_TABLE } from '../../functions/poller/state';
import { POLLED_ROUTES, POLLER_TIMEOUT, type TogetherPoller } from '../../infra/constructs/together-poller';
import { STACK_OUTPUTS } from '../../functions/core/stack-outputs';
import { receiverPropsFromContext, type WebhookReceiverStack } from '../../infra/stack';
import { arnOf, logicalId, ref, testStack } from './app';

let stack: WebhookReceiverStack;
let template: Template;
let poller: TogetherPoller;

beforeAll(() => {
  stack = testStack({ receiver: { togetherPolling: { enabled: true } } });
  template = Template.fromStack(stack);
  if (stack.webhooks.poller === undefined) throw new Error('togetherPolling.enabled did not create the poller');
  poller = stack.webhooks.poller;
});

function resource(id: string): { Properties: Record<string, unknown> } & Record<string, unknown> {
  return template.toJSON().Resources[id];
}

/** The IAM statements attached to the poller's role. */
function pollerStatements(): { Action: string | string[]; Resource: unknown }[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([ref(poller.function.role)]) },
  });
  return Object.values(policies).flatMap((policy) => (policy as { Properties: { PolicyDocument: { Statement: never[] } } }).Properties.PolicyDocument.Statement);
}

const sqsSendStatement = () => pollerStatements().find((statement) => [statement.Action].flat().includes('sqs:SendMessage'));

describe('poller function', () => {
  it('runs on Node.js 24, ARM64, with 256 MB and a 90 s timeout', () => {
    expect(resource(logicalId(poller.function.handler)).Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: POLLER_TIMEOUT.toSeconds(),
    });
    expect(POLLER_TIMEOUT.toSeconds()).toBe(90);
  });

  it('is configured with the events table, the receiver’s queue map, its state table, the key’s secret ARN and the retention', () => {
    const receiverVariables = (resource(logicalId(stack.webhooks.receiver.handler)).Properties.Environment as { Variables: Record<string, unknown> }).Variables;

    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: ref(stack.webhooks.table),
          QUEUE_URLS: receiverVariables.QUEUE_URLS,
          POLLER_TABLE_NAME: ref(poller.table),
          TOGETHER_API_KEY_SECRET_ARN: ref(poller.apiKeySecret),
          RETENTION_DAYS: '7',
          POWERTOOLS_SERVICE_NAME: 'poller',
        }),
      },
    });
  });

  it('never receives the API key itself, only the secret’s ARN', () => {
    const variables = (resource(logicalId(poller.function.handler)).Properties.Environment as { Variables: Record<string, unknown> }).Variables;

    expect(Object.keys(variables)).not.toContain('TOGETHER_API_KEY');
    expect(variables.TOGETHER_API_KEY_SECRET_ARN).toEqual(ref(poller.apiKeySecret));
  });

  it('is not retried by Lambda: the next scheduled run repeats a failed one', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: ref(poller.function.handler),
      MaximumRetryAttempts: 0,
    });
  });
});

describe('schedule', () => {
  it('invokes the poller every minute, retrying a failed invoke only while the tick is fresh', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: arnOf(poller.function.handler), RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 } })],
    });
  });

  it('lets only its rule invoke the poller', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: arnOf(poller.function.handler),
      SourceArn: arnOf(poller.rule),
    });
  });

  it('follows the schedule it is given', () => {
    const every5 = Template.fromStack(testStack({ receiver: { togetherPolling: { enabled: true, schedule: Schedule.rate(Duration.minutes(5)) } } }));

    every5.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
  });
});

describe('state table and secret', () => {
  it('keys the state table by POLLER_TABLE.partitionKey, on demand, recoverable, encrypted, retained, with no TTL', () => {
    expect(resource(logicalId(poller.table))).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [{ AttributeName: POLLER_TABLE.partitionKey, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    });
    expect(resource(logicalId(poller.table)).Properties.TimeToLiveSpecification).toBeUndefined();
  });

  it('creates the API key secret blank and retained, for the operator to fill', () => {
    expect(resource(logicalId(poller.apiKeySecret))).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: { SecretString: ' ', Description: expect.stringContaining('Together API key') },
    });
    expect(String(resource(logicalId(poller.apiKeySecret)).Properties.SecretString).trim()).toBe('');
  });
});

describe('poller permissions', () => {
  it('may do the accept path’s item operations on the events table and nothing on its index', () => {
    expect(pollerStatements()).toContainEqual({
      Action: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      Effect: 'Allow',
      Resource: arnOf(stack.webhooks.table),
    });
    expect(JSON.stringify(pollerStatements())).not.toContain('/index/');
  });

  it('may batch-read and update its state table', () => {
    expect(pollerStatements()).toContainEqual({
      Action: ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
      Effect: 'Allow',
      Resource: arnOf(poller.table),
    });
  });

  it('may read the API key secret and no other', () => {
    const reads = pollerStatements().filter((statement) => [statement.Action].flat().includes('secretsmanager:GetSecretValue'));

    expect(reads).toEqual([expect.objectContaining({ Resource: ref(poller.apiKeySecret) })]);
  });

  it('may send to exactly the queues of the routes it emits', () => {
    const resources = [sqsSendStatement()?.Resource].flat();

    expect(resources).toHaveLength(POLLED_ROUTES.length);
    expect(resources).toEqual(expect.arrayContaining(POLLED_ROUTES.map((route) => arnOf(stack.webhooks.queues[route]))));
  });

  it.each(['model.deprecated', 'model.deployed', 'other'] as const)('may not send to the %s queue, which it never emits to', (route) => {
    expect(JSON.stringify(pollerStatements())).not.toContain(logicalId(stack.webhooks.queues[route]));
  });

  it('[P-TOG] emits to the nine fine-tune and batch routes: every route its observations can carry, and no other', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const eventTypes = ['job_start', 'training_start', 'checkpoint_save', 'job_error', 'job_complete', 'model_upload_complete'];
    const events = eventTypes.map((type, index) => ({ type, created_at: at, step: index, hash: `h${index}` }));
    const jobStatuses = ['pending', 'queued', 'running', 'compressing', 'uploading', 'cancel_requested', 'cancelled', 'error', 'user_error', 'completed'];
    const batchStatuses = ['VALIDATING', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'EXPIRED', 'CANCELLED'];

    const observed = [
      ...jobStatuses.flatMap((status) => observeFineTune({ id: 'ft-1', status, created_at: at, updated_at: at }, events, at)),
      ...batchStatuses.flatMap((status) => observeBatch({ id: 'batch-1', status, created_at: at, completed_at: at }, at)),
    ];

    expect(new Set(observed.map((observation) => observation.event.type))).toEqual(new Set(POLLED_ROUTES));
    expect([...POLLED_ROUTES].sort()).toEqual([
      'batch.cancelled',
      'batch.completed',
      'batch.expired',
      'batch.failed',
      'fine_tune.cancelled',
      'fine_tune.checkpoint',
      'fine_tune.completed',
      'fine_tune.failed',
      'fine_tune.started',
    ]);
    expect(POLLED_ROUTES.every((route) => (ROUTES as readonly string[]).includes(route))).toBe(true);
  });
});

describe('poller alarms and outputs', () => {
  const alarmTopic = () => ref(stack.webhooks.alarmTopic as Topic);

  it('alarms on repeated poller errors, to the alarm topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: ref(poller.function.handler) }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [alarmTopic()],
      OKActions: [alarmTopic()],
    });
  });

  it('alarms when runs come within 20% of the timeout', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Duration',
      Statistic: 'Maximum',
      Dimensions: [{ Name: 'FunctionName', Value: ref(poller.function.handler) }],
      Threshold: POLLER_TIMEOUT.toMilliseconds() * 0.8,
      AlarmActions: [alarmTopic()],
    });
  });

  it('alarms when jobs keep failing to be accepted (FailingJobs of the poller, in the stack namespace), to the alarm topic', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'WebhookReceiver',
      MetricName: 'FailingJobs',
      // What the handler's Powertools metrics carry (CloudFormation lists them by name).
      Dimensions: [
        { Name: 'provider', Value: 'together' },
        { Name: 'service', Value: 'poller' },
      ],
      Statistic: 'Maximum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [alarmTopic()],
      OKActions: [alarmTopic()],
    });
    expect(stack.webhooks.alarms).toContain(poller.failingJobsAlarm);
  });

  it('shows its alarms with the others', () => {
    expect(stack.webhooks.alarms).toEqual(expect.arrayContaining([poller.errorsAlarm, poller.durationAlarm]));
  });

  it('gives the secret to store the key in and the state table', () => {
    template.hasOutput(STACK_OUTPUTS.togetherApiKeySecretArn, { Value: ref(poller.apiKeySecret) });
    template.hasOutput(STACK_OUTPUTS.pollerTableName, { Value: ref(poller.table) });
    expect(STACK_OUTPUTS.togetherApiKeySecretArn).toBe('TogetherApiKeySecretArn');
    expect(STACK_OUTPUTS.pollerTableName).toBe('PollerTableName');
  });
});

describe('polling off', () => {
  it.each([
    ['by default', {}],
    ['when enabled is false', { togetherPolling: { enabled: false } }],
  ])('deploys no poller, schedule, state table, key secret or outputs %s', (_, receiver) => {
    const off = testStack({ receiver });
    const offTemplate = Template.fromStack(off);

    expect(off.webhooks.poller).toBeUndefined();
    offTemplate.resourceCountIs('AWS::Events::Rule', 0);
    offTemplate.resourcePropertiesCountIs('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ POLLER_TABLE_NAME: Match.anyValue() }) } }, 0);
    expect(JSON.stringify(offTemplate.toJSON())).not.toContain('TOGETHER_API_KEY');
    expect(Object.keys(offTemplate.toJSON().Outputs)).not.toEqual(expect.arrayContaining([STACK_OUTPUTS.togetherApiKeySecretArn]));
    expect(Object.keys(offTemplate.toJSON().Outputs)).not.toEqual(expect.arrayContaining([STACK_OUTPUTS.pollerTableName]));
  });
});

describe('polling from CDK context', () => {
  const fromContext = (context: Record<string, string>) => receiverPropsFromContext((key) => context[key]);

  it('is off unless togetherPolling is given', () => {
    expect(fromContext({}).togetherPolling).toBeUndefined();
  });

  it('reads -c togetherPolling=true -c togetherPollMinutes=5', () => {
    const props = fromContext({ togetherPolling: 'true', togetherPollMinutes: '5' });

    expect(props.togetherPolling?.enabled).toBe(true);
    expect(props.togetherPolling?.schedule?.expressionString).toBe('rate(5 minutes)');
  });

  it('reads -c togetherPolling=false as off', () => {
    expect(fromContext({ togetherPolling: 'false' }).togetherPolling).toEqual({ enabled: false });
  });

  it('refuses a togetherPolling other than true or false', () => {
    expect(() => fromContext({ togetherPolling: 'yes' })).toThrow(/togetherPolling must be true or false, got "yes"/);
  });

  it('refuses a poll interval that is not a whole number of minutes from 1', () => {
    expect(() => fromContext({ togetherPolling: 'true', togetherPollMinutes: '0.5' })).toThrow(/togetherPollMinutes must be a whole number from 1/);
  });

  it('refuses a poll interval without togetherPolling, which would otherwise do nothing', () => {
    expect(() => fromContext({ togetherPollMinutes: '5' })).toThrow(/togetherPollMinutes is set but togetherPolling is not/);
  });
});
