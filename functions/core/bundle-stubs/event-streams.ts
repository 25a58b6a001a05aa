/**
 * Stands in for `@smithy/core/event-streams` in the receiver's bundle (RECEIVER_BUNDLE_ALIASES in
 * infra/constructs/bundled-function.ts). The SDK loads it only for an operation that streams
 * events (S3 SelectObjectContent, Bedrock's streaming responses); DynamoDB, SQS and Secrets Manager
 * have none, so the receiver never reaches it, and the real module is 15 KB of its bundle.
 */

function unsupported(): never {
  throw new Error('event streams are left out of this bundle (functions/core/bundle-stubs/event-streams.ts): bundle this function without RECEIVER_BUNDLE_ALIASES');
}

/** Never constructed: see the module's note. */
export class EventStreamSerde {
  constructor() {
    unsupported();
  }
}

/** Never called: see the module's note. */
export const eventStreamSerdeProvider = (): never => unsupported();
