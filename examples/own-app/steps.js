// @ts-check
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { defineSteps } from 'ai-webhook-receiver/steps';

/**
 * Your own logic inside the receiver's claim on each event: bundled into the route's consumer by
 * the construct (`steps` in stack.js), and run by `npx webhooks dev --steps steps.js` on your machine.
 */
export const steps = defineSteps({
  'fine_tune.completed': [
    async (event, context) => {
      // Typed for this route, whatever the provider: absent when the provider does not send it.
      const { modelName, jobId } = event.data;
      if (modelName === undefined || jobId === undefined) return;
      // Once per job transition, whichever of its events comes first, retries and replays included.
      await context.once('evaluation', async (idempotencyKey) => {
        // Where you would call your evaluation service with `idempotencyKey`; here the request is
        // noted on the job's item (the consumer may update the jobs table), so you can see it.
        await context.documents.send(
          new UpdateCommand({
            TableName: context.jobsTableName,
            Key: { pk: `${event.provider}#${jobId}` },
            UpdateExpression: 'ADD evaluationRequests :one SET evaluationModel = :model, evaluationKey = :key',
            ExpressionAttributeValues: { ':one': 1, ':model': modelName, ':key': idempotencyKey },
          }),
        );
      });
    },
  ],
});
