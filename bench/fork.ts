import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A benchmark worker in its own Node process, reached over IPC. */
export interface Worker<Message> {
  readonly child: ChildProcess;
  /** Resolves with the next IPC message the worker sends. */
  next(): Promise<Message>;
  send(message: unknown): void;
  /** Bytes the worker wrote to stdout so far: its Powertools log and metric lines. */
  stdoutBytes(): number;
  /** Resolves when the worker has exited; rejects when it failed. */
  exited(): Promise<void>;
}

/**
 * Forks a TypeScript module of this folder. Its stdout (the receiver's log lines, as Lambda would
 * ship them to CloudWatch) is drained and counted so that the table stays readable; its stderr is
 * kept for the error message, minus the SDK's Node 20 support notice.
 */
export function forkWorker<Message>(moduleName: string): Worker<Message> {
  const child = fork(fileURLToPath(new URL(moduleName, import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stdoutBytes = 0;
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdoutBytes += chunk.length;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8_000);
  });
  const queue: Message[] = [];
  const waiters: Array<{ resolve: (message: Message) => void; reject: (error: Error) => void }> = [];
  const failure = () =>
    new Error(
      `bench worker ${moduleName} exited early; its stderr:\n${stderr
        .split('\n')
        .filter((line) => !/NodeVersionSupportWarning|no longer support|node --trace-warnings|^\s*$/.test(line))
        .join('\n')}`,
    );
  const exit = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => {
      for (const waiter of waiters.splice(0)) waiter.reject(failure());
      if (code === 0) resolve();
      else reject(failure());
    });
  });
  // A rejection nobody awaits yet must not crash the parent; exited() reports it.
  exit.catch(() => undefined);
  child.on('message', (message) => {
    const waiter = waiters.shift();
    if (waiter === undefined) queue.push(message as Message);
    else waiter.resolve(message as Message);
  });
  return {
    child,
    next() {
      const queued = queue.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      if (child.exitCode !== null) return Promise.reject(failure());
      return new Promise<Message>((resolve, reject) => waiters.push({ resolve, reject }));
    },
    send(message) {
      child.send(message as object);
    },
    stdoutBytes: () => stdoutBytes,
    exited: () => exit,
  };
}
