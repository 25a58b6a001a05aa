// The "Add your own logic to a route" example of docs/extending.md, verbatim below the next line: type-checked
// here, and run against every provider's sample by test/integration/extension-example.test.ts.
import { defineSteps } from 'ai-webhook-receiver/steps';
import { startEvaluation } from './my-evaluations';

export const steps = defineSteps({
  'fine_tune.completed': [
    async (event, context) => {
      // Typed for this route: string | undefined. Absent when the provider does not name the
      // model (a Standard Webhooks sender sends only the job id), never guessed.
      const { modelName, jobId } = event.data;
      if (modelName === undefined) {
        context.logger.warn('fine-tune completed without a model name; no evaluation started', { key: context.key, jobId });
        return;
      }
      await context.once('evaluation', (key) => startEvaluation({ model: modelName, idempotencyKey: key }));
    },
  ],
});
