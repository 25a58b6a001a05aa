import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ID_ONLY_ROUTES } from '../../functions/core/providers/openai';
import { ROUTES, type Route } from '../../functions/core/routes';
import { STACK_OUTPUTS } from '../../functions/core/stack-outputs';
import { BATCH_RESULTS_CONSUMER } from '../../infra/constructs/batch-results';
import { receiverPropsFromContext, type WebhookReceiverStackProps } from '../../infra/stack';
import { arnOf, logicalId, ref, testStack } from './app';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type Resources = Record<string, { Type: string; Properties: Record<string, unknown> & { Environment?: { Variables: Record<string, unknown> } } }>;

function synth(props: WebhookReceiverStackProps = {}) {
  const stack = testStack(props);
  const template = Template.fromStack(stack);
  return { stack, template, resources: template.toJSON().Resources as Resources, outputs: template.toJSON().Outputs as Record<string, { Value: unknown; Description: string }> };
}

/** Every IAM statement attached to a role. */
function statementsOf(template: Template, roleLogicalId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: Match.arrayWith([{ Ref: roleLogicalId }]) } });
  return Object.values(policies).flatMap((policy) => (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
}

/** The logical ids of the roles any of whose statements names `resource` (a `Ref` or `Fn::GetAtt`), for `action`. */
function rolesAllowed(template: Template, action: string, resource: unknown): string[] {
  const roles = new Set<string>();
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy')) as { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } } }[]) {
    const names = policy.Properties.PolicyDocument.Statement.some(
      (statement) => [statement.Action].flat().includes(action) && JSON.stringify([statement.Resource].flat()).includes(JSON.stringify(resource)),
    );
    if (names) for (const { Ref } of policy.Properties.Roles) roles.add(Ref);
  }
  return [...roles].sort();
}

/** The routes OpenAI's event types are routed to, from the provider's own table. */
const ENRICHED: readonly Route[] = ROUTES.filter((route) => (Object.values(ID_ONLY_ROUTES) as readonly string[]).includes(route));

let served: ReturnType<typeof synth>;
beforeAll(() => {
  served = synth();
});

describe('[P-OAI2] the OpenAI API key in the stack', () => {
  it('[P-OAI2] a deployment serving openai creates one blank secret for the OpenAI key, and names it in the outputs with what fails until it is stored', () => {
    const secret = served.stack.webhooks.openAiApiKeySecret;

    expect(secret).toBeDefined();
    expect(served.resources[logicalId(secret!)]?.Properties).toMatchObject({
      Description: expect.stringMatching(/^OpenAI API key .*as a plain string\. Blank until set/),
      SecretString: ' ',
    });
    expect(served.outputs[STACK_OUTPUTS.openAiApiKeySecretArn]).toEqual({
      Value: ref(secret!),
      Description: expect.stringMatching(/OpenAI API key.*OpenAI events fail into the dead-letter queue until it is set/),
    });
  });

  it('[P-OAI2] a deployment without openai has no OpenAI secret, no output and no OpenAI variable on any consumer', () => {
    const without = synth({ receiver: { providers: ['together', 'replicate'] } });

    expect(without.stack.webhooks.openAiApiKeySecret).toBeUndefined();
    expect(without.outputs[STACK_OUTPUTS.openAiApiKeySecretArn]).toBeUndefined();
    without.template.resourcePropertiesCountIs('AWS::SecretsManager::Secret', { Description: Match.stringLikeRegexp('OpenAI API key') }, 0);
    for (const route of ROUTES) {
      const variables = without.resources[logicalId(without.stack.webhooks.consumers[route].handler)]?.Properties.Environment?.Variables ?? {};
      expect(Object.keys(variables).filter((name) => name.startsWith('OPENAI_')), route).toEqual([]);
    }
  });

  it('[P-OAI2] only the consumers of the routes OpenAI events are completed on may read the secret', () => {
    const secret = served.stack.webhooks.openAiApiKeySecret!;
    const expected = ENRICHED.map((route) => logicalId(served.stack.webhooks.consumers[route].role)).sort();

    expect(ENRICHED.length).toBeGreaterThan(0);
    expect(ENRICHED).not.toContain('other');
    expect(rolesAllowed(served.template, 'secretsmanager:GetSecretValue', ref(secret))).toEqual(expected);
  });

  it('[P-OAI2] sets OPENAI_API_KEY_SECRET_ARN on those consumers only, and no OPENAI_API_BASE_URL unless one is given', () => {
    const secret = served.stack.webhooks.openAiApiKeySecret!;

    for (const route of ROUTES) {
      const variables = served.resources[logicalId(served.stack.webhooks.consumers[route].handler)]?.Properties.Environment?.Variables ?? {};
      expect(variables.OPENAI_API_KEY_SECRET_ARN, route).toEqual(ENRICHED.includes(route) ? ref(secret) : undefined);
      expect(variables.OPENAI_API_BASE_URL, route).toBeUndefined();
    }
    const receiver = served.resources[logicalId(served.stack.webhooks.receiver.handler)]?.Properties.Environment?.Variables ?? {};
    expect(receiver.OPENAI_API_KEY_SECRET_ARN).toBeUndefined();
  });

  it('[P-OAI2] openAiApiBaseUrl sets OPENAI_API_BASE_URL on those consumers only, without its trailing slash', () => {
    const proxied = synth({ receiver: { openAiApiBaseUrl: 'https://openai-proxy.example.com/v1/' } });

    for (const route of ROUTES) {
      const variables = proxied.resources[logicalId(proxied.stack.webhooks.consumers[route].handler)]?.Properties.Environment?.Variables ?? {};
      expect(variables.OPENAI_API_BASE_URL, route).toBe(ENRICHED.includes(route) ? 'https://openai-proxy.example.com/v1' : undefined);
    }
  });

  it('[P-OAI2] refuses at synth a base URL the key may not travel to: plain http off loopback, not a URL, or openai not served', () => {
    expect(() => synth({ receiver: { openAiApiBaseUrl: 'http://openai-proxy.example.com/v1' } })).toThrow(
      /openAiApiBaseUrl must be https:\/\/ \(plain http only to 127\.0\.0\.0\/8, \[::1\] or localhost\); got "http:\/\/openai-proxy\.example\.com\/v1"/,
    );
    expect(() => synth({ receiver: { openAiApiBaseUrl: 'api.openai.com/v1' } })).toThrow(/openAiApiBaseUrl must be an absolute URL/);
    expect(() => synth({ receiver: { providers: ['together'], openAiApiBaseUrl: 'https://api.openai.com/v1' } })).toThrow(/does not serve openai/);
    expect(() => synth({ receiver: { openAiApiBaseUrl: 'http://127.0.0.1:8787/v1' } })).not.toThrow();
  });

  it('[P-OAI2] reads openAiApiBaseUrl from context', () => {
    const context = (values: Record<string, string>) => (key: string) => values[key];

    expect(receiverPropsFromContext(context({ openAiApiBaseUrl: 'https://openai-proxy.example.com/v1' })).openAiApiBaseUrl).toBe('https://openai-proxy.example.com/v1');
    expect(receiverPropsFromContext(context({})).openAiApiBaseUrl).toBeUndefined();
  });

  it('[P-OAI2] leaves Together’s API key secret as it was: same description, one secret', () => {
    const polled = synth({ receiver: { togetherPolling: { enabled: true } } });

    polled.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: 'Together API key the poller and batch results call Together with, as a plain string. Blank until set; until then those calls fail.',
    });
    polled.template.resourcePropertiesCountIs('AWS::SecretsManager::Secret', { Description: Match.stringLikeRegexp('Together API key') }, 1);
  });
});

describe('[P-OAI2] OpenAI batch results in the stack', () => {
  let results: ReturnType<typeof synth>;
  beforeAll(() => {
    results = synth({ receiver: { batchResults: true } });
  });

  /** The bucket ARN pattern of a prefix, as the grants write it. */
  const under = (prefix: string) => ({ 'Fn::Join': ['', [arnOf(results.stack.webhooks.batchResults!.bucket), `/${prefix}*`]] });
  const s3Statements = (route: Route) =>
    statementsOf(results.template, logicalId(results.stack.webhooks.consumers[route].role)).filter((statement) => [statement.Action].flat().some((action) => action.startsWith('s3:')));

  it('[P-OAI2] the batch.completed consumer writes under together/batches/ and openai/batches/, the batch.expired one under openai/batches/ only', () => {
    const completed = s3Statements('batch.completed');
    expect(completed).toEqual([{ Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:PutObject'], Resource: expect.any(Array) }]);
    expect(completed[0]?.Resource).toHaveLength(2);
    expect(completed[0]?.Resource).toEqual(expect.arrayContaining([under('together/batches/'), under('openai/batches/')]));
    expect(s3Statements('batch.expired')).toEqual([{ Effect: 'Allow', Action: ['s3:AbortMultipartUpload', 's3:PutObject'], Resource: under('openai/batches/') }]);
    for (const route of ROUTES.filter((name) => name !== 'batch.completed' && name !== 'batch.expired')) expect(s3Statements(route), route).toEqual([]);
  });

  it('[P-OAI2] the batch.expired consumer copies with the OpenAI key only, with the results bucket and the copying consumer’s settings', () => {
    const expired = results.stack.webhooks.consumers['batch.expired'];
    const variables = results.resources[logicalId(expired.handler)]?.Properties.Environment?.Variables ?? {};

    expect(variables).toMatchObject({
      RESULTS_BUCKET_NAME: ref(results.stack.webhooks.batchResults!.bucket),
      OPENAI_API_KEY_SECRET_ARN: ref(results.stack.webhooks.openAiApiKeySecret!),
      CONSUMER_TIMEOUT_SECONDS: String(BATCH_RESULTS_CONSUMER.timeoutSeconds),
    });
    expect(variables.TOGETHER_API_KEY_SECRET_ARN).toBeUndefined();
    expect(rolesAllowed(results.template, 'secretsmanager:GetSecretValue', ref(results.stack.webhooks.batchResults!.apiKeySecret))).toEqual([
      logicalId(results.stack.webhooks.consumers['batch.completed'].role),
    ]);
  });

  it('[P-OAI2] without openai, the batch.expired consumer stays a plain consumer and copies nothing', () => {
    const together = synth({ receiver: { batchResults: true, providers: ['together'] } });
    const variables = together.resources[logicalId(together.stack.webhooks.consumers['batch.expired'].handler)]?.Properties.Environment?.Variables ?? {};

    expect(variables.RESULTS_BUCKET_NAME).toBeUndefined();
    expect(statementsOf(together.template, logicalId(together.stack.webhooks.consumers['batch.expired'].role)).filter((statement) => JSON.stringify(statement.Action).includes('s3:'))).toEqual([]);
  });
});
