import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../cli/program';
import { ROUTES, type Route } from '../../functions/core/routes';
import { STACK_OUTPUTS } from '../../functions/core/stack-outputs';
import { lazySqsClient } from '../../ops/target';
import { captureOutput } from './cli-support';

// No emulator serves CloudFormation or StartMessageMoveTask: the AWS path is checked against
// mocked SDK clients, constructed by the CLI itself from the stack's outputs.
const cfn = mockClient(CloudFormationClient);
const sqs = mockClient(SQSClient);
const documents = mockClient(DynamoDBDocumentClient);
// The stubs are on the classes: the files after this one in its worker get the real clients back.
afterAll(() => {
  for (const mock of [cfn, sqs, documents]) mock.restore();
});

const STACK = 'WebhookReceiver';
const arn = (route: Route, dlq = false) => `arn:aws:sqs:eu-west-1:123456789012:Webhooks-${routePart(route)}${dlq ? '-dlq' : ''}`;
const url = (route: Route, dlq = false) => `https://sqs.eu-west-1.amazonaws.com/123456789012/Webhooks-${routePart(route)}${dlq ? '-dlq' : ''}`;
const routePart = (route: Route) => route.replace(/[._]/g, '-');

function stackOutputs() {
  const outputs = [
    { OutputKey: STACK_OUTPUTS.eventsTableName, OutputValue: 'WebhookReceiver-EventsTable-ABC' },
    { OutputKey: STACK_OUTPUTS.jobsTableName, OutputValue: 'WebhookReceiver-JobsTable-DEF' },
    { OutputKey: STACK_OUTPUTS.webhookUrl('together'), OutputValue: 'https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/together' },
    { OutputKey: STACK_OUTPUTS.secretArn('together'), OutputValue: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:together-xyz' },
  ];
  for (const route of ROUTES) {
    outputs.push(
      { OutputKey: STACK_OUTPUTS.queueUrl(route), OutputValue: url(route) },
      { OutputKey: STACK_OUTPUTS.queueArn(route), OutputValue: arn(route) },
      { OutputKey: STACK_OUTPUTS.deadLetterQueueUrl(route), OutputValue: url(route, true) },
      { OutputKey: STACK_OUTPUTS.deadLetterQueueArn(route), OutputValue: arn(route, true) },
    );
  }
  return outputs;
}

async function cli(...argv: string[]) {
  const captured = captureOutput();
  const code = await run(argv, { output: captured.output, env: { AWS_REGION: 'eu-west-1' }, sleep: async () => {} });
  return { code, stdout: captured.stdout, stderr: captured.stderr };
}

beforeEach(() => {
  cfn.on(DescribeStacksCommand, { StackName: STACK }).resolves({
    Stacks: [{ StackName: STACK, CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: stackOutputs() }],
  });
  // Every queue is empty unless a test says otherwise.
  sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' } });
});

afterEach(() => {
  cfn.reset();
  sqs.reset();
  documents.reset();
});

describe('webhooks dlq redrive --stack', () => {
  it('starts one StartMessageMoveTask per route with dead letters, from its DLQ ARN to its queue ARN, and follows it to the end', async () => {
    sqs.on(GetQueueAttributesCommand, { QueueUrl: url('fine_tune.failed', true) }).resolves({ Attributes: { ApproximateNumberOfMessages: '7', ApproximateNumberOfMessagesNotVisible: '0' } });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
    sqs
      .on(ListMessageMoveTasksCommand)
      .resolvesOnce({ Results: [{ TaskHandle: 'task-1', Status: 'RUNNING', ApproximateNumberOfMessagesMoved: 3, ApproximateNumberOfMessagesToMove: 7 }] })
      .resolves({ Results: [{ TaskHandle: 'task-1', Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 7, ApproximateNumberOfMessagesToMove: 7 }] });

    const { code, stdout } = await cli('dlq', 'redrive', '--all', '--stack', STACK);

    const starts = sqs.commandCalls(StartMessageMoveTaskCommand).map((call) => call.args[0].input);
    expect(code).toBe(0);
    expect(starts).toEqual([{ SourceArn: arn('fine_tune.failed', true), DestinationArn: arn('fine_tune.failed') }]);
    expect(sqs.commandCalls(ListMessageMoveTasksCommand)).toHaveLength(2);
    expect(sqs.commandCalls(ListMessageMoveTasksCommand)[0]?.args[0].input).toEqual({ SourceArn: arn('fine_tune.failed', true), MaxResults: 1 });
    expect(stdout).toContain('fine_tune.failed: moved 7');
    expect(stdout).toContain('moved 7 dead letters back to their queues');
  });

  it('exits 1 with the reason when the move task fails', async () => {
    sqs.on(GetQueueAttributesCommand, { QueueUrl: url('other', true) }).resolves({ Attributes: { ApproximateNumberOfMessages: '2', ApproximateNumberOfMessagesNotVisible: '0' } });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-2' });
    sqs.on(ListMessageMoveTasksCommand).resolves({
      Results: [{ TaskHandle: 'task-2', Status: 'FAILED', FailureReason: 'AccessDenied', ApproximateNumberOfMessagesMoved: 0 }],
    });

    const { code, stderr } = await cli('dlq', 'redrive', 'other', '--stack', STACK);

    expect(code).toBe(1);
    expect(stderr).toContain('the move task of route other failed: AccessDenied');
  });

  it('returns once the task has started with --no-wait', async () => {
    sqs.on(GetQueueAttributesCommand, { QueueUrl: url('batch.failed', true) }).resolves({ Attributes: { ApproximateNumberOfMessages: '1', ApproximateNumberOfMessagesNotVisible: '0' } });
    sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-3' });

    const { code, stdout } = await cli('dlq', 'redrive', 'batch.failed', '--no-wait', '--stack', STACK);

    expect(code).toBe(0);
    expect(sqs.commandCalls(ListMessageMoveTasksCommand)).toHaveLength(0);
    expect(stdout).toContain('batch.failed: move task started');
  });
});

describe('webhooks --stack targets', () => {
  it('asks CloudFormation for the named stack and queries that stack\'s events table through its time index', async () => {
    documents.on(QueryCommand).resolves({ Items: [] });

    const { code } = await cli('events', 'list', '--since', '1h', '--stack', STACK);

    const queries = documents.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(code).toBe(0);
    expect(cfn.commandCalls(DescribeStacksCommand)[0]?.args[0].input).toEqual({ StackName: STACK });
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.every((input) => input.TableName === 'WebhookReceiver-EventsTable-ABC' && input.IndexName === 'byReceivedDay')).toBe(true);
  });

  it('lists and shows jobs from the stack\'s jobs table: its day index, then one item by key', async () => {
    documents.on(QueryCommand).resolves({ Items: [] });
    documents.on(GetCommand).resolves({
      Item: { pk: 'together#ft-1', provider: 'together', subject: 'ft-1', kind: 'fine_tune', state: 'completed', model: 'acct/m', updatedAt: '2026-11-25T10:00:00.000Z' },
    });

    const list = await cli('jobs', 'list', '--since', '1h', '--stack', STACK);
    const show = await cli('jobs', 'show', 'together#ft-1', '--stack', STACK);

    const queries = documents.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(list.code).toBe(0);
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.every((input) => input.TableName === 'WebhookReceiver-JobsTable-DEF' && input.IndexName === 'byActiveDay')).toBe(true);
    expect(show.code).toBe(0);
    expect(documents.commandCalls(GetCommand)[0]?.args[0].input).toMatchObject({ TableName: 'WebhookReceiver-JobsTable-DEF', Key: { pk: 'together#ft-1' }, ConsistentRead: true });
    expect(show.stdout).toMatch(/model:\s+acct\/m/);
  });

  it('reads queue depths from the stack\'s queue URLs for status', async () => {
    documents.on(QueryCommand).resolves({ Items: [] });
    sqs.on(GetQueueAttributesCommand, { QueueUrl: url('fine_tune.completed', true) }).resolves({ Attributes: { ApproximateNumberOfMessages: '1', ApproximateNumberOfMessagesNotVisible: '0' } });
    // The peek at the dead letters, to count those with no record, finds it gone already.
    sqs.on(ReceiveMessageCommand).resolves({ Messages: [] });

    const { code, stdout } = await cli('status', '--stack', STACK);

    expect(code).toBe(1);
    expect(stdout).toContain('stack WebhookReceiver');
    expect(stdout).toContain('UNHEALTHY: dead letters waiting on fine_tune.completed');
  });

  it('exits 2 and says what to check when the stack does not exist', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'Nope' }).rejects(new Error('Stack with id Nope does not exist'));

    const { code, stderr } = await cli('status', '--stack', 'Nope');

    expect(code).toBe(2);
    expect(stderr).toContain('stack Nope does not exist in this account and region: check --stack, AWS_PROFILE and AWS_REGION');
  });

  it('prints the put-secret-value command with the stack\'s secret ARN after registering', async () => {
    const seen: { url?: string; body?: string } = {};
    const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) => {
      seen.url = String(input);
      seen.body = String(init?.body);
      return new Response(JSON.stringify({ id: 'wh_1' }), { status: 200 });
    }) as typeof fetch;
    const captured = captureOutput();

    const code = await run(['register', 'together', '--stack', STACK], {
      output: captured.output,
      env: { AWS_REGION: 'eu-west-1', TOGETHER_API_KEY: 'tk' },
      fetch: fakeFetch,
    });

    expect(code).toBe(0);
    expect(seen.url).toBe('https://api.together.xyz/v1/webhooks');
    expect(JSON.parse(seen.body ?? '{}')).toMatchObject({ url: 'https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/together' });
    expect(captured.stdout).toContain(
      `printf '["%s"]' "$TOGETHER_WEBHOOK_SECRET" | aws secretsmanager put-secret-value --secret-id arn:aws:secretsmanager:eu-west-1:123456789012:secret:together-xyz --secret-string file:///dev/stdin`,
    );
  });
});

describe('the SQS client of a target', () => {
  it('[CLI] is made on its first call, then hands each command and its options to the SQS client', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '3' } });
    const client = lazySqsClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const callsBefore = sqs.calls().length;

    const first = await client.send(new GetQueueAttributesCommand({ QueueUrl: url('fine_tune.completed'), AttributeNames: ['ApproximateNumberOfMessages'] }));
    await client.send(new GetQueueAttributesCommand({ QueueUrl: url('fine_tune.failed', true) }), { requestTimeout: 1_234 });

    expect(callsBefore).toBe(0);
    expect(first.Attributes).toEqual({ ApproximateNumberOfMessages: '3' });
    const calls = sqs.commandCalls(GetQueueAttributesCommand);
    expect(calls.map((call) => call.args[0].input.QueueUrl)).toEqual([url('fine_tune.completed'), url('fine_tune.failed', true)]);
    expect((calls[1]?.args as readonly unknown[] | undefined)?.[1]).toEqual({ requestTimeout: 1_234 });
  });

  it('[CLI] passes the SQS error of a call on as it came', async () => {
    sqs.on(GetQueueAttributesCommand).rejects(Object.assign(new Error('The specified queue does not exist.'), { name: 'QueueDoesNotExist' }));
    const client = lazySqsClient({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });

    await expect(client.send(new GetQueueAttributesCommand({ QueueUrl: url('batch.completed') }))).rejects.toMatchObject({ name: 'QueueDoesNotExist' });
  });
});
