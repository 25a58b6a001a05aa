import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookReceiverStack } from '../../infra/stack';
import { testApp, testStack } from './app';

interface ValidationReport {
  pluginReports: { summary: { pluginName: string; status: string }; violations: { ruleName: string }[] }[];
}

let outdir: string;
let app: App;
let stack: WebhookReceiverStack;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'webhooks-nag-'));
  // As infra/app.ts does: the AWS Solutions pack over the whole app. With Together polling and the
  // event bus and a listener on, so that the optional resources are checked too (they only add to the default stack).
  app = testApp({ outdir, validate: true });
  stack = testStack({ receiver: { togetherPolling: { enabled: true }, eventBus: true, listeners: ['alice'] } }, app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
});

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

/** Every cdk-nag acknowledgement in the tree (the Control Tower ones are test/infra/control-tower.test.ts's): rule id → reasons. */
function acknowledgements(root: IConstruct): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [qualified, reason] of Object.entries(entry.data as Record<string, string>)) {
        const id = qualified.replace(/^annotation::/i, '');
        if (!id.startsWith('AwsSolutions-')) continue;
        found.set(id, [...(found.get(id) ?? []), reason]);
      }
    }
  }
  return found;
}

describe('cdk-nag AWS Solutions checks', () => {
  it('leave no unacknowledged finding, with Together polling and the event bus on', () => {
    expect(stack.webhooks.poller).toBeDefined();
    expect(stack.webhooks.events).toBeDefined();
    // A finding makes synth throw, naming the rule and the resource.
    const assembly = app.synth();
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as ValidationReport;
    expect(report.pluginReports.flatMap((plugin) => plugin.violations.map((violation) => violation.ruleName))).toEqual([]);
  });

  it('[CPU] fail the synth of a template CloudFormation rejects, as a deploy does; the apps of template-only tests leave that check out', () => {
    const synthOf = (validate: boolean) => {
      const bare = testApp({ outdir: join(outdir, `schema-${validate}`), validate });
      new CfnResource(new Stack(bare, 'Bare'), 'Plain', { type: 'AWS::SQS::Queue', properties: { MessageRetentionPeriod: 'forever' } });
      return () => bare.synth();
    };

    expect(synthOf(true)).toThrow(/MessageRetentionPeriod: 'forever' is not of type 'integer' \(CloudFormation Validate\)/);
    expect(synthOf(false)).not.toThrow();
  });

  it("leave no unacknowledged finding with endpoint: 'functionUrl', and acknowledge nothing more for it", () => {
    const leanApp = testApp({ outdir: join(outdir, 'lean'), validate: true });
    const lean = testStack({ receiver: { endpoint: 'functionUrl' } }, leanApp);
    Validations.of(leanApp).addPlugins(new AwsSolutionsChecks(leanApp));

    const assembly = leanApp.synth();

    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as ValidationReport;
    expect(report.pluginReports.flatMap((plugin) => plugin.violations.map((violation) => violation.ruleName))).toEqual([]);
    expect(new Set([...acknowledgements(lean).keys()].map((id) => id.replace(/\[.*$/, '')))).toEqual(new Set(['AwsSolutions-SMG4', 'AwsSolutions-SNS2', 'AwsSolutions-IAM5']));
  });

  it('fail the synth of a stack with a finding (the check is live)', () => {
    const bare = new App({ outdir: join(outdir, 'bare') });
    new Queue(new Stack(bare, 'Bare'), 'Plain');
    Validations.of(bare).addPlugins(new AwsSolutionsChecks(bare));
    expect(() => bare.synth()).toThrow(/AwsSolutions-SQS/);
  });

  it('acknowledge only rules that cannot be fixed here, each with a reason', () => {
    const acknowledged = acknowledgements(stack);
    const rules = [...acknowledged.keys()].map((id) => id.replace(/\[.*$/, ''));
    expect(new Set(rules)).toEqual(new Set(['AwsSolutions-APIG4', 'AwsSolutions-SMG4', 'AwsSolutions-SNS2', 'AwsSolutions-IAM5']));
    for (const reasons of acknowledged.values()) {
      for (const reason of reasons) expect(reason.length).toBeGreaterThan(60);
    }
  });

  it('acknowledges wildcards only for the key of the alerts topic and for X-Ray', () => {
    const wildcards = [...acknowledgements(stack).keys()].filter((id) => id.includes('IAM5'));
    expect(wildcards.sort()).toEqual([
      'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      'AwsSolutions-IAM5[Resource::*]',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:key/*]',
    ]);
  });

  it('acknowledges the X-Ray wildcard on each function’s tracing policy alone, never on a role', () => {
    const functions = [stack.webhooks.receiver, ...Object.values(stack.webhooks.consumers), ...(stack.webhooks.poller ? [stack.webhooks.poller.function] : [])];
    for (const fn of functions) {
      expect(acknowledgements(fn.tracingPolicy).has('AwsSolutions-IAM5[Resource::*]')).toBe(true);
      expect(acknowledgements(fn.role).has('AwsSolutions-IAM5[Resource::*]')).toBe(false);
    }
  });
});

describe('cdk-nag AWS Solutions checks with batch results', () => {
  it.each([
    ['without polling', { batchResults: true }],
    ['with polling', { batchResults: true, togetherPolling: { enabled: true } }],
  ] as const)('leave no unacknowledged finding %s', (name, receiver) => {
    const app = testApp({ outdir: join(outdir, `results-${name.replace(/ /g, '-')}`), validate: true });
    testStack({ receiver }, app);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

    const assembly = app.synth();

    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations: { ruleName: string }[] }[];
    };
    expect(report.pluginReports.flatMap((plugin) => plugin.violations.map((violation) => violation.ruleName))).toEqual([]);
  });
});
