import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stack, Validations, type App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookReceiver } from '../../infra/constructs/webhook-receiver';
import { arnOf, logicalId, testApp } from './app';

let outdir: string;
beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'consumer-settings-'));
});
afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

/** A stack with a receiver and a bucket, checked by cdk-nag as infra/app.ts checks the app. */
function appWithBucket(name: string): { app: App; stack: Stack; receiver: WebhookReceiver; bucket: Bucket } {
  const app = testApp({ outdir: join(outdir, name) });
  const stack = new Stack(app, 'Own');
  const receiver = new WebhookReceiver(stack, 'Webhooks');
  const bucket = new Bucket(stack, 'Reports', { encryption: BucketEncryption.S3_MANAGED, blockPublicAccess: BlockPublicAccess.BLOCK_ALL, enforceSSL: true });
  Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S1', reason: 'A bucket of this test only; its access logs are not what is tested.' });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, receiver, bucket };
}

/** s3:PutObject under reports/ for the fine_tune.completed consumer, as the README shows. */
function grantReportWrites(receiver: WebhookReceiver, bucket: Bucket): void {
  receiver.grantToConsumers('fine_tune.completed', (consumer) =>
    consumer.addToRolePolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects('reports/*')] })),
  );
}

const findingOf = (stack: Stack, bucket: Bucket) => `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(bucket.node.defaultChild as CfnBucket)}.Arn>/reports/*]`;

describe('permissions for your own steps', () => {
  it('a wildcard grant to a consumer fails cdk synth with IAM5, naming the finding', () => {
    const { app, stack, receiver, bucket } = appWithBucket('unacknowledged');

    grantReportWrites(receiver, bucket);

    expect(() => app.synth()).toThrow(findingOf(stack, bucket));
  });

  it('synthesizes clean once that finding is acknowledged with its reason', () => {
    const { app, stack, receiver, bucket } = appWithBucket('acknowledged');
    grantReportWrites(receiver, bucket);

    Validations.of(receiver.consumers['fine_tune.completed']).acknowledge({
      id: findingOf(stack, bucket),
      reason: 'The consumer writes one report per job under reports/ in this bucket; the object names are known only at run time.',
    });

    expect(() => app.synth()).not.toThrow();
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(receiver.consumers['fine_tune.completed'].role) }],
      PolicyDocument: {
        Statement: Match.arrayWith([{ Action: 's3:PutObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [arnOf(bucket), '/reports/*']] } }]),
      },
    });
  });

  it('grants to the consumers of the routes named, and no other', () => {
    const { stack, receiver, bucket } = appWithBucket('routes');
    const granted: string[] = [];

    receiver.grantToConsumers(['fine_tune.completed', 'batch.completed'], (consumer, route) => {
      granted.push(route);
      consumer.addToRolePolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects('templates/report.html')] }));
    });

    expect(granted).toEqual(['fine_tune.completed', 'batch.completed']);
    const roles = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .filter((policy) => JSON.stringify(policy).includes('s3:GetObject'))
      .flatMap((policy) => policy.Properties.Roles as unknown[]);
    expect(roles).toEqual(
      expect.arrayContaining([{ Ref: logicalId(receiver.consumers['fine_tune.completed'].role) }, { Ref: logicalId(receiver.consumers['batch.completed'].role) }]),
    );
    expect(roles).toHaveLength(2);
  });

  it('sets variables and a secret’s ARN on the consumers of the routes named, and lets them read the secret', () => {
    const { stack, receiver } = appWithBucket('settings');
    const secret = new Secret(stack, 'EvaluationApiKey');
    Validations.of(secret).acknowledge({ id: 'AwsSolutions-SMG4', reason: 'A secret of this test only; rotation is not what is tested.' });

    receiver.addConsumerEnvironment('fine_tune.completed', { REPORTS_PREFIX: 'reports/' });
    receiver.addConsumerSecret('fine_tune.completed', 'EVALUATION_API_KEY_ARN', secret);
    const resources = Template.fromStack(stack).toJSON().Resources;

    const variables = resources[logicalId(receiver.consumers['fine_tune.completed'].handler)].Properties.Environment.Variables;
    expect(variables).toMatchObject({ REPORTS_PREFIX: 'reports/', EVALUATION_API_KEY_ARN: { Ref: logicalId(secret) } });
    expect(resources[logicalId(receiver.consumers['batch.completed'].handler)].Properties.Environment.Variables.REPORTS_PREFIX).toBeUndefined();
    const reads = Object.values(resources).filter(
      (resource) => (resource as { Type: string }).Type === 'AWS::IAM::Policy' && JSON.stringify(resource).includes('secretsmanager:GetSecretValue'),
    );
    expect(JSON.stringify(reads)).toContain(logicalId(receiver.consumers['fine_tune.completed'].role));
  });

  it('refuses a variable the consumer or Lambda owns', () => {
    const { receiver } = appWithBucket('reserved');

    expect(() => receiver.addConsumerEnvironment('fine_tune.completed', { TABLE_NAME: 'x' })).toThrow(/TABLE_NAME is set by the consumer itself/);
    expect(() => receiver.addConsumerEnvironment('fine_tune.completed', { AWS_REGION: 'x' })).toThrow(/AWS_ belong to Lambda or Powertools/);
    expect(() => receiver.addConsumerEnvironment('fine_tune.completed', { 'MY-VAR': 'x' })).toThrow(/not a usable variable name/);
    expect(() => receiver.grantToConsumers('fine_tune.done' as never, () => undefined)).toThrow(/"fine_tune.done" is not a route/);
  });
});
