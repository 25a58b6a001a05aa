import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';

/**
 * The item operations of the accept path (conditional put, read, mark queued, release), which the
 * receiver and the Together poller share.
 */
export const RECEIVER_TABLE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'] as const;

/**
 * What the consumer code sends to both tables, and nothing more: `GetItem` (a record's status, a
 * job, a step's record) and conditional `UpdateItem` (claim, mark handled or failed, project a job,
 * claim and mark a step). No put, delete or query: the consumers only move existing items on, or
 * create one by a conditional update. Your own steps add what they need with `grantToConsumers`.
 */
export const CONSUMER_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'] as const;

/**
 * What the consumer code sends to the job-history table: `Query` (a job's history items, by its
 * key) and conditional `PutItem` (one checkpoint or state, written whole). No update or delete.
 */
export const CONSUMER_HISTORY_ACTIONS = ['dynamodb:Query', 'dynamodb:PutItem'] as const;

/**
 * Grants item actions on the table itself and nothing else. `Table.grant*` also grants every
 * index of the table (`…/index/*`); the functions that write by key never read an index, and
 * the wildcard would be a standing exception to explain.
 */
export function grantItemAccess(table: ITable, grantee: IGrantable, actions: readonly string[]): Grant {
  return Grant.addToPrincipal({ grantee, actions: [...actions], resourceArns: [table.tableArn] });
}

/**
 * The poller's state table: read many items by key at once (`BatchGetItem`, consistent) and merge
 * what a run saw into one item (`UpdateItem`, conditional). Nothing scans or deletes.
 */
export const POLLER_STATE_ACTIONS = ['dynamodb:BatchGetItem', 'dynamodb:UpdateItem'] as const;
