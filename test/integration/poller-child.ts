/**
 * A poller in its own process, for the crash test in poller.test.ts: it runs one poll against the
 * emulators and the fake API named in its environment, and SIGKILLs itself just before its
 * `KILL_BEFORE_SEND`-th queue send, when that event's record holds a lease and is not on its queue.
 */
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientConfig } from '../../functions/core/aws';
import { requireEnv } from '../../functions/core/config';
import { createApiKeyReader, pollerFromConfig, readPollerConfig } from '../../functions/poller/config';

const killBeforeSend = Number(requireEnv(process.env, 'KILL_BEFORE_SEND'));
const config = readPollerConfig();
const sqs = new SQSClient(clientConfig({ endpoint: requireEnv(process.env, 'SQS_ENDPOINT') }));
const send = sqs.send.bind(sqs);
let sends = 0;
sqs.send = ((command: Parameters<typeof send>[0]) => {
  if (command instanceof SendMessageCommand && ++sends === killBeforeSend) process.kill(process.pid, 'SIGKILL');
  return send(command);
}) as typeof sqs.send;

const poll = pollerFromConfig(config, {
  documents: DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: requireEnv(process.env, 'DYNAMODB_ENDPOINT') }))),
  sqs,
  apiKey: createApiKeyReader(config.apiKey),
});
await poll();
// Reaching this line means the kill never happened: the test fails on the exit code.
process.exit(3);
