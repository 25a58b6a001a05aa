import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnAppStack } from '../../examples/own-app/stack';
import { arnOf, logicalId, ref } from './app';

/**
 * `examples/own-app`: a CDK app of its own that imports the construct by the package's name
 * (`ai-webhook-receiver`, resolved through package.json `exports`), as a user's app would.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const exampleDir = join(repoRoot, 'examples', 'own-app');
const run = promisify(execFile);

let outdir: string;
beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'own-app-'));
});
afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

describe('examples/own-app', () => {
  it('synthesizes with `cdk synth` in its folder, its handler bundled, with no cdk-nag finding', async () => {
    // The app's own cdk.json and app.ts; cdk-nag's AWS Solutions pack makes any finding fail the synth.
    await run(process.execPath, [join(repoRoot, 'node_modules', 'aws-cdk', 'bin', 'cdk'), 'synth', '--quiet', '--no-notices', '--output', outdir], {
      cwd: exampleDir,
      env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
      maxBuffer: 16 * 1024 * 1024,
    });

    const template = JSON.parse(readFileSync(join(outdir, 'OwnApp.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: { Environment?: { Variables?: Record<string, unknown> } }; Metadata?: Record<string, string> }>;
    };
    const handler = Object.values(template.Resources).find(
      (resource) => resource.Type === 'AWS::Lambda::Function' && resource.Properties.Environment?.Variables?.EVALUATIONS_TABLE !== undefined,
    );
    const bundle = join(outdir, handler?.Metadata?.['aws:asset:path'] ?? 'missing', 'index.mjs');
    expect(existsSync(bundle)).toBe(true);
    // Only types came from the package: nothing of it is left to resolve at run time.
    expect(readFileSync(bundle, 'utf8')).not.toContain('ai-webhook-receiver');
  }, 300_000);

  describe('its stack', () => {
    let stack: OwnAppStack;
    let template: Template;
    let app: App;
    beforeAll(() => {
      app = new App({ outdir: join(outdir, 'in-process'), context: { 'aws:cdk:bundling-stacks': [] } });
      stack = new OwnAppStack(app, 'OwnApp');
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
      template = Template.fromStack(stack);
    });

    it('sends fine_tune.completed to its Lambda function and batch.completed to its state machine', () => {
      const bus = { Ref: logicalId(stack.receiver.events?.eventBus as never) };
      const lambda = Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: Match.objectLike({ EVALUATIONS_TABLE: Match.anyValue() }) } } }));
      const machine = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'));

      template.resourceCountIs('AWS::Events::Rule', 2);
      template.hasResourceProperties('AWS::Events::Rule', {
        EventBusName: bus,
        EventPattern: { 'detail-type': ['fine_tune.completed'] },
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [lambda[0], 'Arn'] }, DeadLetterConfig: Match.anyValue() })],
      });
      template.hasResourceProperties('AWS::Events::Rule', {
        EventBusName: bus,
        EventPattern: { 'detail-type': ['batch.completed'] },
        Targets: [Match.objectLike({ Arn: { Ref: machine[0] } })],
      });
    });

    it('gives the fine_tune.completed consumer its variable, its secret and its write under reports/', () => {
      const consumer = stack.receiver.consumers['fine_tune.completed'];
      const variables = template.toJSON().Resources[logicalId(consumer.handler)].Properties.Environment.Variables;

      expect(variables).toMatchObject({ REPORTS_BUCKET: expect.anything(), EVALUATION_API_KEY_ARN: expect.anything() });
      expect(variables.REPORTS_BUCKET).toEqual(ref(stack.node.findChild('Reports')));
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [ref(consumer.role)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            { Action: 's3:PutObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [arnOf(stack.node.findChild('Reports')), '/reports/*']] } },
          ]),
        },
      });
      // Only the consumer of that route.
      const other = template.toJSON().Resources[logicalId(stack.receiver.consumers['batch.completed'].handler)].Properties.Environment.Variables;
      expect(other.REPORTS_BUCKET).toBeUndefined();
    });

    it('leaves no unacknowledged cdk-nag finding', () => {
      const assembly = app.synth();
      const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
        pluginReports: { violations: { ruleName: string }[] }[];
      };

      expect(report.pluginReports.flatMap((plugin) => plugin.violations.map((violation) => violation.ruleName))).toEqual([]);
    });
  });
});
