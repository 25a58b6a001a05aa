import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/core/routes';
import { logicalId, ref, testStack } from './app';

const withPolling = { togetherPolling: { enabled: true } } as const;

describe('tracing', () => {
  it('is active on every function by default, with the Tracer on', () => {
    const template = Template.fromStack(testStack({ receiver: withPolling }));

    template.allResourcesProperties(
      'AWS::Lambda::Function',
      Match.objectLike({
        TracingConfig: { Mode: 'Active' },
        Environment: { Variables: Match.objectLike({ POWERTOOLS_TRACE_ENABLED: 'true' }) },
      }),
    );
  });

  it('is PassThrough with the Tracer off when tracing is false', () => {
    const template = Template.fromStack(testStack({ receiver: { ...withPolling, tracing: false } }));

    template.allResourcesProperties(
      'AWS::Lambda::Function',
      Match.objectLike({
        TracingConfig: { Mode: 'PassThrough' },
        Environment: { Variables: Match.objectLike({ POWERTOOLS_TRACE_ENABLED: 'false' }) },
      }),
    );
  });

  it('grants the X-Ray actions in a policy of their own, apart from the grants of each role', () => {
    const stack = testStack();
    const template = Template.fromStack(stack);
    const resources = template.toJSON().Resources;

    for (const fn of [stack.webhooks.receiver, ...ROUTES.map((route) => stack.webhooks.consumers[route])]) {
      const policy = resources[logicalId(fn.tracingPolicy)];
      expect(policy.Properties).toMatchObject({
        Roles: [ref(fn.role)],
        PolicyDocument: { Statement: [{ Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], Effect: 'Allow', Resource: '*' }] },
      });
      expect(resources[logicalId(fn.handler)].DependsOn).toContain(logicalId(fn.tracingPolicy));
    }
    // No policy mixes the X-Ray statement with other grants.
    const mixed = Object.values(template.findResources('AWS::IAM::Policy')).filter(
      (policy) => JSON.stringify(policy).includes('xray:') && (policy.Properties.PolicyDocument.Statement as unknown[]).length > 1,
    );
    expect(mixed).toEqual([]);
  });
});
