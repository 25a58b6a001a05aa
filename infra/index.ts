/**
 * The package's main entry, `ai-webhook-receiver`: the construct to add to your own CDK app, its
 * props, and the event types (also on their own in `ai-webhook-receiver/events`).
 *
 * ```ts
 * import { WebhookReceiver } from 'ai-webhook-receiver';
 * const receiver = new WebhookReceiver(this, 'Webhooks', { eventBus: true });
 * receiver.onEvent('fine_tune.completed', new LambdaFunction(myFunction));
 * ```
 */
export { WebhookReceiver, type TogetherPollingProps, type WebhookReceiverProps } from './constructs/webhook-receiver';
export { ACCEPT_WORST_CASE_SECONDS, RECEIVER_TIMEOUT } from './constructs/receiver-budget';
export { DEFAULT_EVENT_ARCHIVE_RETENTION, MIN_RECORD_LIFETIME, recordLifetime, WebhookEventBus, type OnEventOptions, type WebhookEventBusProps } from './constructs/event-bus';
export { BundledFunction, FUNCTION_RUNTIME, type BundledFunctionProps } from './constructs/bundled-function';
export { RoutePipeline } from './constructs/route-pipeline';
export { TogetherPoller } from './constructs/together-poller';
export { WebhookReceiverStack, type WebhookReceiverStackProps } from './stack';
export { STACK_OUTPUTS } from '../functions/core/stack-outputs';
export * from '../functions/core/index';
export { defineSteps, type Extensions, type OnceOptions, type OnceScope, type RouteContext, type RouteStep } from '../functions/consumers/steps';
