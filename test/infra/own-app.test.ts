import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations, type Stack } from 'aws-cdk-lib';
import type { WebhookReceiver } from 'ai-webhook-receiver';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { arnOf, logicalId, ref } from './app';

/** examples/own-app/stack.js: JavaScript, a project of its own; here its package name resolves to this repository's sources. */
interface OwnAppStack extends Stack {
  readonly receiver: WebhookReceiver;
}
const { OwnAppStack } = (await import(new URL('../../examples/own-app/stack.js', import.meta.url).href)) as {
  OwnAppStack: new (scope: App, id: string) => OwnAppStack;
};

/**
 * `examples/own-app`, a CDK app of its own, as a user writes one: its stack's wiring, in process.
 * Installed from the packed tarball and synthesized with `cdk synth` (bundling, cdk-nag) in
 * test/package/installed.test.ts.
 */

let outdir: string;
beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'own-app-'));
});
afterAll(() => {
  rmSync(outdir, { recursive: true, force: true });
});

describe('examples/own-app', () => {
  describe('its stack', () => {
    let stack: OwnAppStack;
    let template: Template;
    let app: App;
    beforeAll(() => {
      // CDK's CloudFormation validation left out here: the installed package's test synthesizes this
      // app with it (test/package/installed.test.ts).
      app = new App({ outdir: join(outdir, 'in-process'), builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
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
