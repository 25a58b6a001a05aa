import { appendFileSync } from 'node:fs';
import { defineSteps } from '../../functions/consumers/steps';

// A steps module as a user writes one, given to the synth of test/infra/bundle.test.ts
// (`-c steps=…`): its step notes each event it runs for in the file STEP_MARK_FILE names.
export const steps = defineSteps({
  'model.deployed': [
    async (event, context) => {
      const file = process.env.STEP_MARK_FILE;
      if (file !== undefined) appendFileSync(file, `${context.key} ${event.data.modelId ?? ''}\n`);
    },
  ],
});
