import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookReceiverProps } from '../../infra/constructs/webhook-receiver';
import { cdkJsonContext, testStack } from './app';

interface ValidationReport {
  pluginReports: { violations: { ruleName: string; description: string; violatingConstructs: { constructPath: string }[] }[] }[];
}

const GUARD = 'cdk-validator-cfnguard';
/** A synth with cfn-guard takes 15 to 25 s on 2 busy cores. */
const SYNTH_TIMEOUT_MS = 120_000;

/** Every option that adds resources, and the leaner endpoint and tracing choices. */
const EVERY_OPTION: WebhookReceiverProps = {
  eventBus: true,
  listeners: ['alice'],
  togetherPolling: { enabled: true },
  batchResults: true,
  endpoint: 'functionUrl',
  tracing: false,
};

let outdir: string;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'webhooks-guard-'));
});

afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

/** The Control Tower rules the validator bundles: one `.guard` file per control, by its path. */
const RULES_DIR = join(dirname(createRequire(import.meta.url).resolve('@cdklabs/cdk-validator-cfnguard')), '..', 'rules', 'control-tower', 'cfn-guard');
const RULE_FILES = new Map(
  readdirSync(RULES_DIR, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.guard'))
    .map((file) => [join(RULES_DIR, file), readFileSync(join(RULES_DIR, file), 'utf8')] as const),
);
/** The resource types a rule checks: each rule selects its resources by `Type == "AWS::…"` (or in single quotes). */
const typesOf = (rule: string) => new Set([...rule.matchAll(/(["'])(AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)\1/g)].map((match) => match[2] as string));

/** An app with the `cdk.json` context; `cfnValidation: false` leaves CDK's CloudFormation validation out. */
function guardedApp(name: string, cfnValidation = true): App {
  return new App({
    outdir: join(outdir, name),
    builtinCloudFormationValidation: cfnValidation,
    context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
  });
}

/**
 * Checks the app at synth by the bundled AWS Control Tower proactive controls. A rule whose
 * resource types the app does not hold is skipped by cfn-guard, so it is left out (disabled): the
 * findings are those of every rule, for a fifth of cfn-guard's time (about 2 s a template, not 8).
 */
const guarded = new WeakSet<App>();
function guard(app: App): void {
  if (guarded.has(app)) return;
  guarded.add(app);
  const types = new Set(app.node.findAll().filter(CfnResource.isCfnResource).map((resource) => resource.cfnResourceType));
  const unused = [...RULE_FILES].filter(([, rule]) => ![...typesOf(rule)].some((type) => types.has(type))).map(([file]) => basename(file, '.guard'));
  Validations.of(app).addPlugins(new CfnGuardValidator({ disabledRules: unused }));
}

/** Synthesizes; returns each unacknowledged finding as `[CT.X.PR.n] rule: construct path`. */
function findings(app: App): string[] {
  guard(app);
  const reportPath = join(app.outdir, 'validation-report.json');
  try {
    app.synth();
  } catch (error) {
    // A finding throws, after writing the report; anything else is a failure of its own.
    if (!existsSync(reportPath)) throw error;
  }
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as ValidationReport;
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations.flatMap((violation) =>
      violation.violatingConstructs.map((construct) => `${violation.description.replace(/:.*$/s, '')} ${violation.ruleName}: ${construct.constructPath}`),
    ),
  );
}

/** The Control Tower rules acknowledged anywhere in the tree, each with its reasons. */
function guardAcknowledgements(root: IConstruct): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        if (!id.startsWith(`${GUARD}::`)) continue;
        const rule = id.slice(GUARD.length + 2);
        found.set(rule, [...(found.get(rule) ?? []), reason]);
      }
    }
  }
  return found;
}

describe('AWS Control Tower proactive controls (cfn-guard)', () => {
  it('[H3-16] leave no unacknowledged finding in the default stack', () => {
    const app = guardedApp('default');
    testStack({}, app);

    const found = findings(app);

    expect(found).toEqual([]);
  }, SYNTH_TIMEOUT_MS);

  it('[H3-16] leave no unacknowledged finding with every option on (event bus, polling, batch results, function URL, no tracing)', () => {
    const app = guardedApp('every-option');
    testStack({ receiver: EVERY_OPTION }, app);

    const found = findings(app);

    expect(found).toEqual([]);
  }, SYNTH_TIMEOUT_MS);

  it('[H3-16] acknowledge only the rules a webhook receiver cannot meet, never log retention or bucket encryption, each with a reason', () => {
    const lean = testStack({}, guardedApp('acks-default'));
    const full = testStack({ receiver: EVERY_OPTION }, guardedApp('acks-every-option'));

    const acknowledged = new Map([...guardAcknowledgements(lean), ...guardAcknowledgements(full)]);

    expect(new Set(acknowledged.keys())).toEqual(
      new Set([
        'api_gw_v2_authorization_type_configured_check',
        'lambda_function_public_access_prohibited_check',
        'lambda_function_url_auth_check',
        'lambda_inside_vpc_check',
        'cloudwatch_log_group_encrypted_check',
        's3_bucket_versioning_enabled_check',
        's3_bucket_logging_enabled_check',
        's3_event_notifications_enabled_check',
        's3_bucket_object_lock_enabled_check',
      ]),
    );
    for (const reason of [...acknowledged.values()].flat()) expect(reason.length).toBeGreaterThan(60);
  });

  it('[CPU] check only with rules that name the resource types they check, so that those of types the stack lacks may be left out', () => {
    const typeless = [...RULE_FILES].filter(([, rule]) => typesOf(rule).size === 0).map(([file]) => basename(file));
    const stack = testStack({ receiver: EVERY_OPTION }, guardedApp('rules-every-option'));
    const kept = [...RULE_FILES.values()].filter((rule) => [...typesOf(rule)].some((type) => stack.node.findAll().some((c) => CfnResource.isCfnResource(c) && c.cfnResourceType === type)));

    expect(RULE_FILES.size).toBeGreaterThan(100);
    expect(typeless).toEqual([]);
    expect(kept.length).toBeGreaterThan(10);
    expect(kept.length).toBeLessThan(RULE_FILES.size / 2);
  });

  it('fail the synth of a stack with a finding (the check is live)', () => {
    const app = guardedApp('bare', false);
    new Queue(new Stack(app, 'Bare'), 'Plain');

    guard(app);

    expect(() => app.synth()).toThrow(/CT\.SQS\.PR\.1.*\n.*Bare\/Plain/);
    expect(findings(app)).toContain('[CT.SQS.PR.1] sqs_dlq_check: Bare/Plain/Resource');
  });
});
