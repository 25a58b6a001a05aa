import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommanderError, type Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/program';
import { webhooksCommands } from '../../local/webhooks';
import { APP_CONTEXT_KEYS } from '../../infra/context';

// Every command README.md and docs/ show is checked against the code that would run it: npm
// scripts against package.json, `-c` keys against what infra reads, and `webhooks` and
// `npm run send` command lines against their real commander programs (parsed, never run), so that
// a renamed command, option, script or setting cannot leave the docs behind.

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A command as a page shows it. */
interface DocCommand {
  /** The page, relative to the repository. */
  readonly file: string;
  readonly line: number;
  /** The command as written (continuation lines joined). */
  readonly text: string;
  /**
   * An inline span, which may name a command without its arguments (`webhooks events show`) or
   * the CLI alone (`webhooks`): only an unknown command, option or value is wrong there.
   */
  readonly reference: boolean;
}

const pages = (): string[] => ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

const SHELL_FENCES = new Set(['sh', 'bash', 'shell', 'console']);
const COMMAND_START = /^(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*(?:npm|npx|webhooks)\s/;

/**
 * The commands of one page: every line of a sh/bash/console block, every `$ ` line of any other
 * block (a capture), and every inline code span that starts with `npm `, `npx `, `webhooks ` or
 * `-c key=` (a CDK setting).
 */
function commandsIn(file: string, markdown: string): DocCommand[] {
  const found: DocCommand[] = [];
  const lines = markdown.split('\n');
  let fence: string | undefined;
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index] ?? '';
    const opening = /^\s*```(\S*)/.exec(line);
    if (opening) {
      fence = fence === undefined ? opening[1] ?? '' : undefined;
      continue;
    }
    if (fence !== undefined) {
      const shell = SHELL_FENCES.has(fence);
      if (!shell && !line.startsWith('$ ')) continue;
      let text = line.replace(/^\$ /, '');
      const start = index;
      while (text.endsWith('\\') && index + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++index] ?? ''}`;
      if (text.trim() !== '') found.push({ file, line: start + 1, text: text.trim(), reference: false });
      continue;
    }
    for (const span of line.matchAll(/`([^`]+)`/g)) {
      const text = (span[1] ?? '').trim();
      if (COMMAND_START.test(`${text} `) || /^-c \w/.test(text)) found.push({ file, line: index + 1, text, reference: true });
    }
  }
  return found;
}

/**
 * Splits a shell line into its simple commands (at `&&`, `||`, `;`, `|`), each a list of words
 * with quotes removed; a `#` that starts a word ends the line. `$(…)` stays one word, as text.
 */
function shellWords(line: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  let quote: string | undefined;
  let substitution = 0;
  const endWord = () => {
    if (word !== undefined) commands[commands.length - 1]?.push(word);
    word = undefined;
  };
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i] ?? '';
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else word = (word ?? '') + c;
    } else if (substitution > 0) {
      word = (word ?? '') + c;
      if (c === '(') substitution += 1;
      if (c === ')') substitution -= 1;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\') {
      word = (word ?? '') + (line[++i] ?? '');
    } else if (c === '$' && line[i + 1] === '(') {
      word = `${word ?? ''}$(`;
      substitution = 1;
      i += 1;
    } else if (/\s/.test(c)) {
      endWord();
    } else if (c === '#' && word === undefined) {
      break;
    } else if (c === ';' || c === '|' || c === '&') {
      endWord();
      if (line[i + 1] === c) i += 1;
      commands.push([]);
    } else {
      word = (word ?? '') + c;
    }
  }
  endWord();
  return commands.filter((words) => words.length > 0);
}

const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
/** npm's own commands the docs use; anything else after `npm` must be a script. */
const NPM_BUILTINS = new Set(['install', 'i', 'ci', 'exec', 'pack']);
/** Tools `npx` runs in the docs, besides `cdk` and `webhooks`, whose arguments are files. */
const NPX_FILE_TOOLS = new Set(['vitest', 'tsx', 'tsc']);

/** The context keys infra reads: the one list `cdk synth` also checks every given key against. */
const KNOWN_CONTEXT_KEYS: ReadonlySet<string> = new Set(APP_CONTEXT_KEYS);

/** Usage notation in prose (`[--port 3100]`) is read as the words inside the brackets. */
const unbracket = (words: readonly string[]) => words.map((word) => word.replace(/^\[/, '').replace(/\]$/, '')).filter((word) => word !== '');

/** A program that parses but never acts: every leaf command's action does nothing. */
function inert(program: Command, sink: (text: string) => void): Command {
  const walk = (command: Command) => {
    command.exitOverride().configureOutput({ writeOut: sink, writeErr: sink });
    if (command.commands.length === 0) command.action(() => undefined);
    command.commands.forEach(walk);
  };
  walk(program);
  return program;
}

/** What a reference to a command may leave out: its arguments, or the subcommand (commander then shows help). */
const INCOMPLETE = new Set(['commander.missingArgument', 'commander.help']);

/** Parses `args` with `program`; the problem commander reports, or undefined when it accepts them. */
async function parseProblem(program: Command, args: readonly string[], reference: boolean): Promise<string | undefined> {
  let printed = '';
  try {
    await inert(program, (text) => (printed += text)).parseAsync([...args], { from: 'user' });
    return undefined;
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.exitCode === 0 || (reference && INCOMPLETE.has(error.code))) return undefined;
    return error.code === 'commander.help' ? `incomplete: ${printed.split('\n')[0] ?? ''}` : error.message;
  }
}

const webhooksProgram = () =>
  // The program as the bin builds it: the CLI's commands and the console's.
  buildProgram({ output: { stdout: { write: () => true }, stderr: { write: () => true, isTTY: false } }, env: {}, commands: webhooksCommands() }, () => undefined);

/** `-c key=value` / `--context key=value` among `args`: the keys infra does not read. */
function unknownContextKeys(args: readonly string[]): string[] {
  const unknown: string[] = [];
  args.forEach((word, index) => {
    if (word !== '-c' && word !== '--context') return;
    const key = (args[index + 1] ?? '').split('=')[0] ?? '';
    if (!KNOWN_CONTEXT_KEYS.has(key)) unknown.push(key);
  });
  return unknown;
}

/** What is wrong with one simple command of a page, or undefined when the code knows it. */
async function problemOf(words: readonly string[], reference = false): Promise<string | undefined> {
  // Environment assignments before the command (`TOGETHER_API_KEY=… npx …`) are not part of it.
  const start = words.findIndex((word) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(word));
  const [tool, ...args] = unbracket(start === -1 ? [] : words.slice(start));
  if (tool === '-c') return unknownContextKeys(['-c', ...args]).map((key) => `unknown context key "${key}"`)[0];
  if (tool === 'webhooks') return parseProblem(webhooksProgram(), args, reference);
  if (tool === 'npm') {
    const [verb, ...after] = args;
    if (verb === undefined) return 'npm with no command';
    if (NPM_BUILTINS.has(verb)) return undefined;
    const script = verb === 'run' ? after[0] : verb;
    if (script === undefined || packageJson.scripts[script] === undefined) return `no script "${script ?? ''}" in package.json`;
    const dashes = after.indexOf('--');
    const scriptArgs = dashes === -1 ? [] : after.slice(dashes + 1);
    // A script that is the CLI (`webhooks`: the program; `send`: its `send` command) takes the CLI's arguments.
    const cli = /^node cli\/webhooks\.js(.*)$/.exec(packageJson.scripts[script] ?? '');
    if (verb === 'run' && cli !== null) return parseProblem(webhooksProgram(), [...(cli[1] ?? '').split(' ').filter(Boolean), ...scriptArgs], reference);
    return undefined;
  }
  if (tool === 'npx') {
    const [name, ...toolArgs] = args;
    if (name === 'webhooks') return parseProblem(webhooksProgram(), toolArgs, reference);
    if (name === 'cdk') return unknownContextKeys(toolArgs).map((key) => `unknown context key "${key}" (infra reads: ${[...KNOWN_CONTEXT_KEYS].join(', ')})`)[0];
    if (name !== undefined && NPX_FILE_TOOLS.has(name)) {
      const missing = toolArgs.filter((arg) => /\.(ts|js|json)$/.test(arg) && !existsSync(join(root, arg)));
      return missing.length === 0 ? undefined : `no file ${missing.join(', ')}`;
    }
    return `npx ${name ?? ''}: not a tool the docs are checked for (cdk, webhooks, ${[...NPX_FILE_TOOLS].join(', ')})`;
  }
  return undefined;
}

/** Every command of every page, with what is wrong with it. */
async function failures(): Promise<string[]> {
  const found: string[] = [];
  for (const page of pages()) {
    for (const command of commandsIn(page, readFileSync(join(root, page), 'utf8'))) {
      for (const words of shellWords(command.text)) {
        const problem = await problemOf(words, command.reference);
        if (problem !== undefined) found.push(`${command.file}:${command.line}: ${command.text}\n    ${problem}`);
      }
    }
  }
  return found;
}

describe('every command shown in README.md and docs/ is one the code knows', () => {
  it('finds the commands of the README and of the pages under docs/', () => {
    const commands = pages().flatMap((page) => commandsIn(page, readFileSync(join(root, page), 'utf8')));

    const files = new Set(commands.map((command) => command.file));

    expect(files).toContain('README.md');
    expect(files).toContain('docs/operations.md');
    expect(commands.filter((command) => /\bnpx webhooks\b/.test(command.text)).length).toBeGreaterThan(10);
    expect(commands.filter((command) => /\bnpm run send\b/.test(command.text)).length).toBeGreaterThan(5);
    expect(commands.filter((command) => /\bnpx cdk\b.*-c /.test(command.text)).length).toBeGreaterThan(2);
  });

  it('every npm script, cdk context key, webhooks command and npm run send line in the docs is accepted by the code', async () => {
    const problems = await failures();

    expect(problems, `commands in the docs the code does not know:\n${problems.join('\n')}`).toEqual([]);
  });

  it('every key of the deploy settings table in docs/configuration.md is a key infra reads, and every key infra reads is in it', () => {
    const page = readFileSync(join(root, 'docs/configuration.md'), 'utf8');
    const table = page.slice(page.indexOf('| `-c` key |'), page.indexOf('\n\n', page.indexOf('| `-c` key |')));
    const providers = [...KNOWN_CONTEXT_KEYS].filter((key) => /^retentionDays[A-Z]/.test(key)).map((key) => key.slice('retentionDays'.length));

    const documented = table
      .split('\n')
      .slice(2)
      .flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? ''))
      .flatMap((key) => (key.includes('<Provider>') ? providers.map((provider) => key.replace('<Provider>', provider)) : [key]));

    expect(new Set(documented)).toEqual(KNOWN_CONTEXT_KEYS);
  });
});

describe('the checker of doc commands', () => {
  it('refuses an unknown webhooks command and an unknown option, and accepts a real one', async () => {
    expect(await problemOf(['npx', 'webhooks', 'records'])).toMatch(/unknown command/);
    expect(await problemOf(['npx', 'webhooks', 'status', '--verbose'])).toMatch(/unknown option/);
    expect(await problemOf(['npm', 'run', 'webhooks', '--', 'dlq', 'list', '--peek', '0'])).toBeUndefined();
    expect(await problemOf(['webhooks', 'events', 'show', 'together#evt_1', '--json'])).toBeUndefined();
  });

  it('lets prose name a command without its arguments, but not a command line in a block', async () => {
    expect(await problemOf(['webhooks', 'events', 'show'], true)).toBeUndefined();
    expect(await problemOf(['webhooks'], true)).toBeUndefined();
    expect(await problemOf(['webhooks', 'records'], true)).toMatch(/unknown command/);
    expect(await problemOf(['npx', 'webhooks', 'events', 'show'])).toMatch(/missing required argument 'key'/);
    expect(await problemOf(['npx', 'webhooks', 'events'])).toMatch(/incomplete/);
  });

  it('reads npm run send as webhooks send, and refuses an option it does not have', async () => {
    expect(await problemOf(['npm', 'run', 'send', '--', 'together', 'fine_tune.completed', '--count', '3'])).toBeUndefined();
    expect(await problemOf(['npm', 'run', 'send', '--', 'together', 'fine_tune.completed', '--tampered'])).toMatch(/unknown option '--tampered'/);
    expect(await problemOf(['npm', 'run', 'send', '--', 'together', 'fine_tune.completed', '--timestamp-offset', '-400'])).toBeUndefined();
  });

  it('refuses a context key infra does not read, and a script package.json lacks', async () => {
    expect(await problemOf(['npx', 'cdk', 'deploy', '-c', 'pollTogether=true'])).toMatch(/unknown context key "pollTogether"/);
    expect(await problemOf(['npx', 'cdk', 'deploy', '-c', 'retentionDaysLlmtune=60', '-c', 'stackName=Hooks'])).toBeUndefined();
    expect(await problemOf(['npm', 'run', 'records'])).toBe('no script "records" in package.json');
  });

  it('reads shell lines as a shell does: quotes, comments, env prefixes, usage brackets and chained commands', async () => {
    expect(shellWords(`TOKEN=… npx webhooks events show 'together#evt_1'   # one event`)).toEqual([['TOKEN=…', 'npx', 'webhooks', 'events', 'show', 'together#evt_1']]);
    expect(shellWords('npm install && npm start')).toEqual([['npm', 'install'], ['npm', 'start']]);
    expect(shellWords('npm run send -- together x --url "$(out WebhookUrlTogether)"')).toEqual([['npm', 'run', 'send', '--', 'together', 'x', '--url', '$(out WebhookUrlTogether)']]);
    expect(await problemOf(['npx', 'webhooks', 'console', '--stack', 'WebhookReceiver', '[--port', '3100]'])).toBeUndefined();
  });

  it('takes commands from shell blocks, captures and inline spans, with their lines', () => {
    const page = ['`npm start` runs it', '```sh', 'npx cdk deploy \\', '  -c eventBus=true', '```', '```', '$ npx webhooks status', 'ROUTE  QUEUED', '```', 'set `-c tracing=false`'].join('\n');

    expect(commandsIn('x.md', page)).toEqual([
      { file: 'x.md', line: 1, text: 'npm start', reference: true },
      { file: 'x.md', line: 3, text: 'npx cdk deploy    -c eventBus=true', reference: false },
      { file: 'x.md', line: 7, text: 'npx webhooks status', reference: false },
      { file: 'x.md', line: 10, text: '-c tracing=false', reference: true },
    ]);
  });
});
