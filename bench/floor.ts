import { randomUUID } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { PutItemCommand, UpdateItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { eventKey, type NormalizedEvent } from '../functions/core/event';
import { EVENTS_TABLE } from '../functions/core/table';

// The I/O floor of the benchmarks: acceptEvent's three calls written out with no logic around
// them, so that the receiver (in process) and the bare server (end to end) are measured against
// the same calls. Deliberately not built from accept.ts: the floor must not share its code.
// test/unit/bench-floor.test.ts fails when these requests drift from what acceptEvent sends: the
// emulators' cost of a request grows with its expressions, so a shorter condition here would
// make the receiver look slower than it is.

/** The same PutItem, SendMessage and UpdateItem that acceptEvent sends, built ahead of time. */
export function floorCommands(tableName: string, queueUrl: string, event: NormalizedEvent, nowMs: number, retentionSeconds = 7 * 86_400) {
  const key = eventKey(event);
  const body = JSON.stringify(event);
  const nowSeconds = Math.floor(nowMs / 1000);
  const leaseToken = randomUUID();
  const item: Record<string, AttributeValue> = {
    [EVENTS_TABLE.partitionKey]: { S: key },
    status: { S: 'in_progress' },
    provider: { S: event.provider },
    eventId: { S: event.id },
    route: { S: event.type },
    providerType: { S: event.providerType },
    ...(event.subject === undefined ? {} : { subject: { S: event.subject } }),
    receivedAt: { S: event.receivedAt },
    receivedDay: { S: event.receivedAt.slice(0, 10) },
    // The record keeps the payload deflated (functions/core/stored-event.ts): an attribute of the
    // same kind and about its size, without the dictionary.
    payload: { B: deflateRawSync(body) },
    expiresAt: { N: String(nowSeconds + retentionSeconds) },
    retentionSeconds: { N: String(retentionSeconds) },
    leaseToken: { S: leaseToken },
    leaseExpiresAt: { N: String(nowSeconds + 30) },
  };
  return {
    put: new PutItemCommand({
      TableName: tableName,
      Item: item,
      ConditionExpression:
        'attribute_not_exists(#pk) OR (#status = :inProgress AND #leaseExpiresAt < :now) OR ' +
        '(#expiresAt < :now AND (#status IN (:handled, :failed) OR (#status = :handling AND #leaseExpiresAt < :now)))',
      ExpressionAttributeNames: { '#pk': 'pk', '#expiresAt': 'expiresAt', '#status': 'status', '#leaseExpiresAt': 'leaseExpiresAt' },
      ExpressionAttributeValues: {
        ':now': { N: String(nowSeconds) },
        ':inProgress': { S: 'in_progress' },
        ':handling': { S: 'handling' },
        ':handled': { S: 'handled' },
        ':failed': { S: 'failed' },
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }),
    send: new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: body,
      MessageAttributes: {
        eventId: { DataType: 'String', StringValue: event.id },
        provider: { DataType: 'String', StringValue: event.provider },
        type: { DataType: 'String', StringValue: event.type },
      },
    }),
    update: new UpdateItemCommand({
      TableName: tableName,
      Key: { [EVENTS_TABLE.partitionKey]: { S: key } },
      ConditionExpression: '#status = :inProgress AND leaseToken = :token',
      UpdateExpression: 'SET #status = :queued, queuedAt = :queuedAt, #expiresAt = :expiryNow + if_not_exists(#retention, :expiryFallback) REMOVE leaseToken, leaseExpiresAt',
      ExpressionAttributeNames: { '#status': 'status', '#expiresAt': 'expiresAt', '#retention': 'retentionSeconds' },
      ExpressionAttributeValues: {
        ':expiryNow': { N: String(nowSeconds) },
        ':expiryFallback': { N: String(retentionSeconds) },
        ':inProgress': { S: 'in_progress' },
        ':token': { S: leaseToken },
        ':queued': { S: 'queued' },
        ':queuedAt': { S: new Date(nowMs).toISOString() },
      },
    }),
  };
}

