import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_NAMES } from '../../ops/local-names';
import { describeBuild } from './build-checks';

/**
 * The package as a user gets it: `npm pack` (which builds it), the tarball installed into a fresh
 * project with aws-cdk-lib and constructs beside it and nothing else (no TypeScript, no tsx), and
 * examples/own-app, a plain JavaScript CDK app with a steps module, copied into it. The example's
 * own app.js runs cdk-nag, which its package.json lists: that test installs cdk-nag first.
 * The build that packing made is checked here too (./build-checks.ts): one build per run.
 */

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const version = (name: string) => (JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

let workdir: string;
let project: string;
/** A clean environment for the user's commands: nothing of this repository's test run leaks in. */
let userEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  workdir = mkdtempSync(join(tmpdir(), 'webhooks-package-'));
  // `prepare` builds dist/ before the tarball is made, as on `npm publish`.
  const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', workdir], { cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string }[];
  project = join(workdir, 'own-app');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'own-app', private: true, type: 'module' }));
  await run(
    npm,
    ['install', '--prefer-offline', '--no-audit', '--no-fund', join(workdir, packed?.filename ?? 'missing.tgz'), `aws-cdk-lib@${version('aws-cdk-lib')}`, `constructs@${version('constructs')}`],
    { cwd: project, maxBuffer: 64 * 1024 * 1024 },
  );
  const example = join(repoRoot, 'examples', 'own-app');
  for (const entry of readdirSync(example)) if (entry !== 'package.json' && entry !== 'node_modules') cpSync(join(example, entry), join(project, entry), { recursive: true });
  userEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? workdir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
}, 600_000);

afterAll(() => {
  if (workdir !== undefined) rmSync(workdir, { recursive: true, force: true });
});

describe('the installed package', () => {
  it('[PKG] installs from the tarball with no TypeScript compiler or loader in the project', () => {
    const installed = JSON.parse(readFileSync(join(project, 'node_modules', 'ai-webhook-receiver', 'package.json'), 'utf8')) as { version: string };

    expect(installed.version).toBe(version('../'));
    expect(['typescript', 'tsx', 'ts-node'].filter((name) => existsSync(join(project, 'node_modules', name)))).toEqual([]);
  });

  it('[PKG] synthesizes a plain JavaScript app with only aws-cdk-lib and constructs beside the package, its step bundled into the consumer of its route', async () => {
    const { dependencies } = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(dependencies).sort()).toEqual(['ai-webhook-receiver', 'aws-cdk-lib', 'constructs']);
    const outdir = join(workdir, 'cdk.out.plain');
    writeFileSync(
      join(project, 'plain-app.js'),
      "import { App } from 'aws-cdk-lib';\nimport { OwnAppStack } from './stack.js';\nconst app = new App();\nnew OwnAppStack(app, 'OwnApp');\n",
    );

    // As `cdk synth` runs the app: its output directory, and asset paths in the template's metadata.
    await run(process.execPath, ['plain-app.js'], {
      cwd: project,
      env: { ...userEnv, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:enable-asset-metadata': true }) },
      maxBuffer: 64 * 1024 * 1024,
    });

    const template = JSON.parse(readFileSync(join(outdir, 'OwnApp.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: { Environment?: { Variables?: Record<string, unknown> } }; Metadata?: Record<string, string> }>;
    };
    const consumer = Object.values(template.Resources).find((resource) => resource.Type === 'AWS::Lambda::Function' && resource.Properties.Environment?.Variables?.ROUTE === 'fine_tune.completed');
    const bundle = readFileSync(join(outdir, consumer?.Metadata?.['aws:asset:path'] ?? 'missing', 'index.mjs'), 'utf8');
    // The step of steps.js, inside the consumer of its route.
    expect(bundle).toContain('evaluationRequests');
  }, 300_000);

  it('[PKG] synthesizes examples/own-app, cdk-nag installed as its package.json lists it, with no cdk-nag finding', async () => {
    await run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', `cdk-nag@${version('cdk-nag')}`], { cwd: project, maxBuffer: 64 * 1024 * 1024 });
    const outdir = join(workdir, 'cdk.out.nag');

    // The rules read the construct tree, not the bundles: bundling is left out of this synth.
    await run(process.execPath, ['app.js'], {
      cwd: project,
      env: { ...userEnv, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [] }) },
      maxBuffer: 64 * 1024 * 1024,
    });

    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as { pluginReports: { violations: { ruleName: string }[] }[] };
    expect(report.pluginReports.length).toBeGreaterThan(0);
    expect(report.pluginReports.flatMap((plugin) => plugin.violations.map((violation) => violation.ruleName))).toEqual([]);
  }, 300_000);

  it('[PKG] runs `npx webhooks --help` with plain node', async () => {
    const { stdout } = await run('npx', ['--no-install', 'webhooks', '--help'], { cwd: project, env: userEnv });

    expect(stdout).toContain('Usage: webhooks [options] [command]');
    expect(stdout).toMatch(/^ {2}dev \[options\] +run the receiver locally/m);
  });

  it('[PKG] runs its step once under `webhooks dev --steps steps.js` when a sample is sent twice', async () => {
    // The installed bin itself (what `npx webhooks` runs), so that the signal at the end reaches it.
    const dev = spawn(process.execPath, [join(project, 'node_modules', 'ai-webhook-receiver', 'dist', 'bin', 'webhooks.js'), 'dev', '--steps', 'steps.js'], {
      cwd: project,
      env: { ...userEnv, PORT: '0', DYNAMODB_PORT: '0', SQS_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const output = await readyOutput(dev);
      const url = /ready: (http:\/\/127\.0\.0\.1:\d+)\/health/.exec(output)?.[1];
      const dynamodb = /DynamoDB \(dynalite\) at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      expect(output).toContain('your steps:');
      expect(output).toContain('npx webhooks send together fine_tune.completed');

      for (let sent = 0; sent < 2; sent += 1) {
        await run('npx', ['--no-install', 'webhooks', 'send', 'together', 'fine_tune.completed', '--id', 'evt_pkg_once', '--url', url ?? 'missing'], { cwd: project, env: userEnv });
      }

      const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }));
      const requested = await eventually(async () => {
        const { Items = [] } = await documents.send(new ScanCommand({ TableName: LOCAL_NAMES.jobsTable }));
        return Items.filter((item) => item.evaluationRequests !== undefined);
      });
      expect(requested.map((item) => ({ pk: item.pk, evaluationRequests: item.evaluationRequests }))).toEqual([{ pk: 'together#ft-evt_pkg_once', evaluationRequests: 1 }]);
    } finally {
      dev.kill('SIGINT');
      await new Promise((resolve) => dev.once('exit', resolve));
    }
  }, 120_000);
});

describeBuild(() => join(project, 'node_modules', 'ai-webhook-receiver'));

/** Everything the process printed until its ready line; fails if it exits first, or is not ready in 60 s. */
function readyOutput(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`webhooks dev was not ready in 60 s:\n${output}`)), 60_000);
    child.once('exit', () => clearTimeout(timer));
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (/ready: http/.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`webhooks dev exited with ${code} before it was ready:\n${output}`)));
  });
}

/** `read` until it returns a non-empty list (the consumer runs after the receiver answers), at most 30 s. */
async function eventually<T>(read: () => Promise<T[]>): Promise<T[]> {
  for (let tries = 0; ; tries += 1) {
    const found = await read();
    if (found.length > 0 || tries >= 60) return found;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
