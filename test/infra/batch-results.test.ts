import { CfnWaitConditionHandle, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_NAMES } from '../../functions/core/event';
import { QUEUE_SETTINGS } from '../../functions/core/queues';
import { ROUTES } from '../../functions/core/routes';
import { BATCH_RESULTS_CONSUMER, DEFAULT_RESULTS_EXPIRATION_DAYS } from '../../infra/constructs/batch-results';
import { STACK_OUTPUTS } from '../../functions/core/stack-outputs';
import { receiverPropsFromContext, WebhookReceiverStack, type WebhookReceiverStackProps } from '../../infra/stack';
import { arnOf, logicalId, ref, testApp, testStack } from './app';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

function synth(props: WebhookReceiverStackProps) {
  const stack = testStack(props);
  const template = Template.fromStack(stack);
  const results = stack.webhooks.batchResults;
  if (props.receiver?.batchResults && results === undefined) throw new Error('batchResults did not create the bucket');
  return { stack, template, results };
}

/** Every IAM statement attached to a role. */
function statementsOf(template: Template, roleLogicalId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: Match.arrayWith([{ Ref: roleLogicalId }]) } });
  return Object.values(policies).flatMap((policy) => (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
}

const actions = (statement: Statement) => [statement.Action].flat();

let on: ReturnType<typeof synth>;
beforeAll(() => {
  // Together's batch results as they are without OpenAI; openai-stack.test.ts covers what serving
  // OpenAI adds (its prefix, the batch.expired consumer).
  on = synth({ receiver: { batchResults: true, providers: PROVIDER_NAMES.filter((provider) => provider !== 'openai') } });
});

describe('batch results: the bucket', () => {
  it('is off by default: no bucket, and the batch.completed consumer as every other one', () => {
    const { template, stack } = synth({});

    template.resourceCountIs('AWS::S3::Bucket', 0);
    expect(stack.webhooks.batchResults).toBeUndefined();
    const consumer = template.toJSON().Resources[logicalId(stack.webhooks.consumers['batch.completed'].handler)].Properties;
    expect(consumer.Timeout).toBe(QUEUE_SETTINGS.consumerTimeoutSeconds);
    expect(consumer.Environment.Variables.RESULTS_BUCKET_NAME).toBeUndefined();
  });

  it('is encrypted with the AWS managed KMS key and a bucket key, blocks public access and enforces bucket-owner object ownership', () => {
    on.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' }, BucketKeyEnabled: true }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it('denies every request that does not use TLS', () => {
    on.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(on.results!.bucket),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('expires results after 90 days by default, after expirationDays when given, and aborts cut multipart uploads after a day', () => {
    const custom = synth({ receiver: { batchResults: { expirationDays: 14 } } });

    on.template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [{ Id: 'ExpireResults', Status: 'Enabled', ExpirationInDays: DEFAULT_RESULTS_EXPIRATION_DAYS, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] },
    });
    expect(DEFAULT_RESULTS_EXPIRATION_DAYS).toBe(90);
    custom.template.hasResourceProperties('AWS::S3::Bucket', { LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 14 })] } });
  });

  it('refuses an expiration that is not a whole number of days from 1 to 3650', () => {
    for (const expirationDays of [0, 1.5, 3651]) {
      expect(() => synth({ receiver: { batchResults: { expirationDays } } })).toThrow(/batchResults.expirationDays must be a whole number from 1 to 3650/);
    }
  });

  it('is retained by default, like the tables, and follows the construct’s removalPolicy', () => {
    const destroyed = synth({ receiver: { batchResults: true, removalPolicy: RemovalPolicy.DESTROY } });

    expect(on.template.toJSON().Resources[logicalId(on.results!.bucket)]).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(destroyed.template.toJSON().Resources[logicalId(destroyed.results!.bucket)]).toMatchObject({ DeletionPolicy: 'Delete' });
  });

  it('writes server access logs to accessLogsBucket when one is given', () => {
    const app = testApp();
    const shared = new Stack(app, 'Shared');
    // CloudFormation rejects an empty template.
    new CfnWaitConditionHandle(shared, 'Placeholder');
    const logs = Bucket.fromBucketName(shared, 'Logs', 'org-access-logs');
    const withLogs = new WebhookReceiverStack(app, 'WebhookReceiverLogged', { receiver: { batchResults: { accessLogsBucket: logs } } });

    Template.fromStack(withLogs).hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { DestinationBucketName: 'org-access-logs', LogFilePrefix: 'batch-results/' },
    });
  });

  it('names the bucket in the stack outputs', () => {
    expect(on.template.toJSON().Outputs[STACK_OUTPUTS.batchResultsBucketName]).toMatchObject({ Value: ref(on.results!.bucket) });
  });
});

describe('batch results: grants and the consumer', () => {
  it('lets the batch.completed consumer put objects and abort multipart uploads under together/batches/ only', () => {
    const role = logicalId(on.stack.webhooks.consumers['batch.completed'].role);
    const s3Statements = statementsOf(on.template, role).filter((statement) => actions(statement).some((action) => action.startsWith('s3:')));

    expect(s3Statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['s3:AbortMultipartUpload', 's3:PutObject'],
        Resource: { 'Fn::Join': ['', [arnOf(on.results!.bucket), '/together/batches/*']] },
      },
    ]);
  });

  it('grants S3 to no other role, and nothing to read, list or delete results', () => {
    const batchRole = logicalId(on.stack.webhooks.consumers['batch.completed'].role);
    const policies = on.template.findResources('AWS::IAM::Policy');
    // A role can have several policies (its grants, X-Ray's): count S3 actions per role.
    const s3ActionsByRole = new Map<string, string[]>();
    for (const policy of Object.values(policies) as { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } } }[]) {
      const s3Actions = policy.Properties.PolicyDocument.Statement.flatMap(actions).filter((action) => action.startsWith('s3:'));
      for (const { Ref } of policy.Properties.Roles) s3ActionsByRole.set(Ref, [...(s3ActionsByRole.get(Ref) ?? []), ...s3Actions]);
    }
    expect(s3ActionsByRole.get(batchRole)?.sort()).toEqual(['s3:AbortMultipartUpload', 's3:PutObject']);
    for (const [role, s3Actions] of s3ActionsByRole) if (role !== batchRole) expect(s3Actions, role).toEqual([]);
  });

  it('lets the consumer read the Together API key secret it is configured with', () => {
    const consumer = on.stack.webhooks.consumers['batch.completed'];
    const secret = on.results!.apiKeySecret;

    expect(statementsOf(on.template, logicalId(consumer.role))).toContainEqual({
      Effect: 'Allow',
      Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
      Resource: ref(secret),
    });
    on.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ ROUTE: 'batch.completed', RESULTS_BUCKET_NAME: ref(on.results!.bucket), TOGETHER_API_KEY_SECRET_ARN: ref(secret) }) },
    });
  });

  it('creates the API key secret when polling is off and names it in the outputs; with polling, shares the poller’s', () => {
    const polled = synth({ receiver: { batchResults: true, togetherPolling: { enabled: true } } });

    expect(on.results!.ownsApiKeySecret).toBe(true);
    expect(on.template.toJSON().Outputs[STACK_OUTPUTS.togetherApiKeySecretArn]).toMatchObject({ Value: ref(on.results!.apiKeySecret) });
    expect(polled.results!.apiKeySecret).toBe(polled.stack.webhooks.poller!.apiKeySecret);
    expect(Object.keys(polled.template.findResources('AWS::SecretsManager::Secret', { Properties: { Description: Match.stringLikeRegexp('Together API key') } }))).toHaveLength(1);
  });

  it('gives the batch.completed consumer 15 minutes, 512 MB and one record per invocation, its queue a visibility of six times that', () => {
    const pipeline = on.stack.webhooks.routes['batch.completed'];
    const resources = on.template.toJSON().Resources;

    expect(resources[logicalId(pipeline.consumer.handler)].Properties).toMatchObject({ Timeout: 900, MemorySize: 512 });
    expect(resources[logicalId(pipeline.consumer.handler)].Properties.Environment.Variables.CONSUMER_TIMEOUT_SECONDS).toBe('900');
    expect(resources[logicalId(pipeline.queue)].Properties.VisibilityTimeout).toBe(6 * BATCH_RESULTS_CONSUMER.timeoutSeconds);
    on.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: ref(pipeline.consumer.handler),
      EventSourceArn: arnOf(pipeline.queue),
      BatchSize: 1,
    });
    for (const route of ROUTES.filter((name) => name !== 'batch.completed')) {
      expect(resources[logicalId(on.stack.webhooks.routes[route].queue)].Properties.VisibilityTimeout).toBe(QUEUE_SETTINGS.visibilityTimeoutSeconds);
    }
  });

  it('reads batchResults and batchResultsExpirationDays from context, refusing an expiration without batchResults', () => {
    const context = (values: Record<string, string>) => (key: string) => values[key];

    expect(receiverPropsFromContext(context({ batchResults: 'true' })).batchResults).toBe(true);
    expect(receiverPropsFromContext(context({ batchResults: 'true', batchResultsExpirationDays: '30' })).batchResults).toEqual({ expirationDays: 30 });
    expect(receiverPropsFromContext(context({ batchResults: 'false' })).batchResults).toBeUndefined();
    expect(() => receiverPropsFromContext(context({ batchResults: 'yes' }))).toThrow(/batchResults must be true or false/);
    expect(() => receiverPropsFromContext(context({ batchResultsExpirationDays: '30' }))).toThrow(/add -c batchResults=true/);
  });
});
