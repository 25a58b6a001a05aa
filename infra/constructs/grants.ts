import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';

/**
 * The item operations of the accept path (conditional put, read, mark queued, release), which the
 * receiver and the Together poller share.
 */
export const RECEIVER_TABLE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'] as const;

/**
 * Item reads and writes by key, for the consumers: the event ledger (claim, mark handled or
 * failed) and the jobs projection are read and written one item at a time, with conditions.
 */
export const ITEM_READ_WRITE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
] as const;

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
