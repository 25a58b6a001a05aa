import { parseSecretList, signatureSchemeVariable } from '../functions/core/config';
import { PROVIDER_NAMES, type ProviderName } from '../functions/core/event';
import { PROVIDERS } from '../functions/core/providers';
import { secretProblem, secretRule } from '../functions/core/verify';
import { sampleTypeFor, sampleTypes } from '../ops/deliveries';
import { CliError, EXIT, UsageError, receiverUnreachable } from '../ops/errors';
import { LOCAL_DEFAULT_PORTS } from '../ops/local-names';
import { burstHint, sendBurst, type BurstOptions } from '../ops/send';
import { parseWholeNumber } from '../ops/time';
import { formatBurst } from './format';
import { printJson, printText, startProgress } from './output';
import type { SendCommandDeps, SendOptions } from './send-command';

/*
 * What `send` does (cli/send-command.ts defines it): loaded when it runs, with the providers'
 * definitions and the signer, which the other commands and `webhooks --help` do without.
 */

/** The sample types of each provider, for `send --help`. */
export function sampleTypesHelp(): string {
  return PROVIDER_NAMES.map((name) => `  ${name}: ${sampleTypes(name).join(', ')}`).join('\n');
}

/** Runs `send <provider> <type>`: one delivery, its answer printed, or a burst, its answers counted. */
export async function sendAction(providerName: string, type: string, options: SendOptions, deps: SendCommandDeps): Promise<void> {
  const { output, env, clock, connect, setCode } = deps;
  const burst = readBurst(providerName, type, options, env);
  let url = options.url;
  if (options.stack !== undefined) {
    if (burst.secret === undefined) {
      throw new UsageError(`set ${PROVIDERS[burst.provider].secretEnv} or --secret to a secret the stack accepts (it is stored in its SecretArn output)`);
    }
    if (url === undefined) {
      const target = await connect(options.stack);
      url = target.webhookUrls[burst.provider];
      if (url === undefined) throw new CliError(`${target.description} has no WebhookUrl output for ${burst.provider}: is the provider enabled there?`);
    }
  }
  url ??= `http://127.0.0.1:${env.PORT?.trim() || LOCAL_DEFAULT_PORTS.PORT}`;
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url must be a URL such as http://127.0.0.1:3000; got "${url}"`);
  }
  const progress = await startProgress(output, 'send', burst.count);
  const summary = await sendBurst({ ...burst, url, onResult: () => progress.increment() }, clock).finally(() => progress.stop());
  if (summary.other['0'] === summary.sent) {
    const tried = /\/webhooks\//.test(url) ? url : new URL(`/webhooks/${burst.provider}`, url).toString();
    throw receiverUnreachable(tried, summary.examples['0'] ?? 'no answer', options.stack === undefined ? undefined : `check the stack's WebhookUrl${capitalized(burst.provider)} output and your network`);
  }
  const hint = burstHint(summary, burst.provider, { ...(options.stack === undefined ? {} : { stack: options.stack }), secretGiven: options.secret !== undefined });
  const single = summary.answer;
  if (options.json) printJson(output, { ...summary, ...(hint === undefined ? {} : { hint }) });
  else if (single !== undefined) printText(output, `${single.status} ${single.body}\n${hint === undefined ? '' : `hint: ${hint}\n`}`);
  else printText(output, `${formatBurst(summary)}${hint === undefined ? '' : `hint: ${hint}\n`}`);
  const ok = single === undefined ? summary.accepted + summary.duplicate === summary.sent : single.status >= 200 && single.status < 300;
  setCode(ok ? EXIT.ok : EXIT.failure);
}

/** The burst the options ask for, every option checked; throws a {@link UsageError} naming the one that is wrong. */
function readBurst(providerName: string, type: string, options: SendOptions, env: SendCommandDeps['env']): Omit<BurstOptions, 'url'> {
  if (!(PROVIDER_NAMES as readonly string[]).includes(providerName)) {
    throw new UsageError(`unknown provider "${providerName}"; known: ${PROVIDER_NAMES.join(', ')}`);
  }
  const provider = providerName as ProviderName;
  if (options.body === undefined && sampleTypeFor(provider, type) === undefined) {
    throw new UsageError(`${provider} has no sample of type "${type}"; known: ${sampleTypes(provider).join(', ')}`);
  }
  const scheme = options.scheme ?? env[signatureSchemeVariable(provider)]?.trim();
  if (scheme !== undefined && scheme !== '' && PROVIDERS[provider].signatureSchemes[scheme] === undefined) {
    throw new UsageError(`${provider} has no signature scheme "${scheme}"; known: ${Object.keys(PROVIDERS[provider].signatureSchemes).join(', ')}`);
  }
  const count = parseWholeNumber(options.count, '--count', 1, 1_000_000);
  const concurrency = parseWholeNumber(options.concurrency, '--concurrency', 1, 256);
  const duplicateRate = Number(options.duplicateRate);
  if (!Number.isFinite(duplicateRate) || duplicateRate < 0 || duplicateRate >= 1) {
    throw new UsageError(`--duplicate-rate must be a number from 0 to below 1 (e.g. 0.2); got "${options.duplicateRate}"`);
  }
  const single = { '--id': options.id, '--body': options.body, '--body-bytes': options.bodyBytes, '--tamper': options.tamper };
  const onlyOne = Object.entries(single).find(([, value]) => value !== undefined);
  if (count > 1 && onlyOne !== undefined) throw new UsageError(`${onlyOne[0]} is for a single delivery; leave out --count (or set it to 1)`);
  const offset = Number(options.timestampOffset);
  if (!Number.isInteger(offset)) throw new UsageError(`--timestamp-offset must be a whole number of seconds (e.g. -400); got "${options.timestampOffset}"`);
  const bodyBytes = options.bodyBytes === undefined ? undefined : parseWholeNumber(options.bodyBytes, '--body-bytes', 0, 16 * 1024 * 1024);
  const secretEnv = PROVIDERS[provider].secretEnv;
  const secret = options.secret ?? parseSecretList(env[secretEnv], secretEnv)[0];
  if (secret !== undefined) {
    const signing = PROVIDERS[provider].signatureSchemes[scheme || PROVIDERS[provider].defaultSignatureScheme]?.scheme ?? 'hmac-hex';
    const problem = secretProblem(signing, secret);
    if (problem !== undefined) {
      throw new UsageError(`the ${provider} signing secret (${options.secret === undefined ? secretEnv : '--secret'}) ${problem}; ${secretRule(signing)}`);
    }
  }
  return {
    provider,
    type,
    count,
    duplicateRate,
    concurrency,
    timestampOffsetSeconds: offset,
    ...(secret === undefined ? {} : { secret }),
    ...(scheme === undefined || scheme === '' ? {} : { scheme }),
    ...(options.id === undefined ? {} : { id: options.id }),
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(bodyBytes === undefined ? {} : { bodyBytes }),
    ...(options.tamper === true ? { tamper: true } : {}),
  };
}

function capitalized(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
