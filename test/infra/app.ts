import { readFileSync } from 'node:fs';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { WebhookReceiverStack, type WebhookReceiverStackProps } from '../../infra/stack';

/** The context of `cdk.json`, so that tests synthesize with the feature flags a deploy uses. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

/**
 * An app with the `cdk.json` context. Without `bundle`, NodejsFunction skips esbuild (the
 * templates are the same; only the asset contents differ), which keeps template tests fast.
 *
 * Without `validate`, synthesis leaves out CDK's built-in CloudFormation validation (a linter that
 * `@aws-cdk/core:validateAgainstDefaultRules` in cdk.json turns into errors): it costs about 4 s
 * of CPU per synthesis and checks nothing a template assertion reads. The tests that read the
 * validation report (cdk-nag, Control Tower, the bundle smoke test's `cdk synth`, the installed
 * package) keep it, for the default stack and for every option on.
 */
export function testApp(options: { bundle?: boolean; outdir?: string; validate?: boolean } = {}): App {
  return new App({
    ...(options.outdir === undefined ? {} : { outdir: options.outdir }),
    builtinCloudFormationValidation: options.validate ?? false,
    context: { ...cdkJsonContext(), ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
}

/** A stack as `cdk deploy` builds it, in a fresh app. */
export function testStack(props: WebhookReceiverStackProps = {}, app: App = testApp()): WebhookReceiverStack {
  return new WebhookReceiverStack(app, 'WebhookReceiver', props);
}

/** The logical id of a construct's CloudFormation resource: what `Ref` and `Fn::GetAtt` name. */
export function logicalId(construct: IConstruct): string {
  const resource = construct.node.defaultChild ?? construct;
  if (!(resource instanceof CfnElement)) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(resource).getLogicalId(resource);
}

export const ref = (construct: IConstruct) => ({ Ref: logicalId(construct) });
export const arnOf = (construct: IConstruct) => ({ 'Fn::GetAtt': [logicalId(construct), 'Arn'] });
