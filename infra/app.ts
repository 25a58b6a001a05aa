import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_STACK_NAME, STACK_NAME_CONTEXT_KEY } from '../functions/core/stack-outputs';
import { checkContextKeys } from './context';
import { receiverPropsFromContext, WebhookReceiverStack } from './stack';

// The CDK app: one stack, checked by cdk-nag's AWS Solutions rules. A finding fails `cdk synth`;
// the ones that cannot be fixed are acknowledged where they arise, each with its reason.
const app = new App();
const read = (key: string): unknown => app.node.tryGetContext(key);

try {
  // A misspelt key (`-c eventbus=true`) would otherwise be ignored, and the default deployed.
  checkContextKeys(Object.keys(app.node.getAllContext()));
  new WebhookReceiverStack(app, String(read(STACK_NAME_CONTEXT_KEY) ?? DEFAULT_STACK_NAME), {
    description: 'Webhook receiver for AI-platform events (API Gateway, Lambda, DynamoDB, SQS)',
    receiver: receiverPropsFromContext(read),
  });
} catch (error) {
  // A wrong `-c` value is the usual cause, and its message names the value and the range; a stack
  // trace after it would bury it. `cdk synth --debug` (CDK_DEBUG) shows the trace.
  for (const line of (error instanceof Error ? error.message : String(error)).split('\n')) console.error(`error: ${line}`);
  if (/^(1|on|true)$/i.test(process.env.CDK_DEBUG ?? '') && error instanceof Error) console.error(error.stack);
  process.exit(1);
}

Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
