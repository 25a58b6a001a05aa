/**
 * Stands for a user's own evaluation service in the README's extension example
 * (`readme-extension.ts`); the test that runs the example replaces it with a recorder.
 */
export async function startEvaluation(_request: { readonly model: string; readonly idempotencyKey: string }): Promise<void> {
  throw new Error('startEvaluation is a stand-in: the test that runs the README example replaces it');
}
