import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';

/** Commands sent (what AWS bills) and HTTP attempts (commands plus SDK retries), by command name. */
export interface CallCounter {
  readonly commands: Map<string, number>;
  /** Commands by name and DynamoDB table (`UpdateItemCommand webhook-jobs`): WRUs are billed per table. */
  readonly byTable: Map<string, number>;
  readonly attempts: Map<string, number>;
  reset(): void;
  /** Commands by name since the last reset, as a plain object for results.json. */
  snapshot(): Record<string, number>;
  tableSnapshot(): Record<string, number>;
  totalCommands(): number;
  totalAttempts(): number;
}

type CountableClient = Pick<DynamoDBClient, 'middlewareStack'> | Pick<SQSClient, 'middlewareStack'>;

/**
 * Counts every command sent through the given clients with SDK middleware. The `initialize` step
 * runs once per `send()`, before retries; the `deserialize` step runs once per HTTP attempt, so a
 * retried call shows up as one command and two attempts.
 */
export function countCalls(clients: readonly CountableClient[]): CallCounter {
  const commands = new Map<string, number>();
  const byTable = new Map<string, number>();
  const attempts = new Map<string, number>();
  const bump = (map: Map<string, number>, name: string) => map.set(name, (map.get(name) ?? 0) + 1);
  for (const client of clients) {
    // Both stacks take the same middleware; the SDK's generic types differ per client only.
    const stack = client.middlewareStack as DynamoDBClient['middlewareStack'];
    stack.add(
      (next, context) => async (args) => {
        const name = context.commandName ?? 'unknown';
        bump(commands, name);
        const table = (args.input as { TableName?: unknown }).TableName;
        if (typeof table === 'string') bump(byTable, `${name} ${table}`);
        return next(args);
      },
      { step: 'initialize', name: 'benchCommandCounter', priority: 'high' },
    );
    stack.add(
      (next, context) => async (args) => {
        bump(attempts, context.commandName ?? 'unknown');
        return next(args);
      },
      { step: 'deserialize', name: 'benchAttemptCounter', priority: 'low' },
    );
  }
  const total = (map: Map<string, number>) => [...map.values()].reduce((sum, value) => sum + value, 0);
  return {
    commands,
    byTable,
    attempts,
    reset() {
      commands.clear();
      byTable.clear();
      attempts.clear();
    },
    snapshot: () => sorted(commands),
    tableSnapshot: () => sorted(byTable),
    totalCommands: () => total(commands),
    totalAttempts: () => total(attempts),
  };
}

function sorted(map: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...map.entries()].sort(([a], [b]) => a.localeCompare(b)));
}
