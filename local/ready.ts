import type { ProviderName } from '../functions/core/event';
import { sampleTypes } from '../ops/deliveries';
import { LOCAL_DEFAULT_PORTS } from '../ops/local-names';

export interface ReadyFacts {
  /** The receiver's base URL, `http://127.0.0.1:{port}`. */
  readonly url: string;
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  /** Enabled providers, in order; the first one is used in the example. */
  readonly providers: readonly ProviderName[];
  /** The web console's login URL, when it is served (loopback only): opening it logs the browser in. */
  readonly consoleUrl?: string;
  /** The fake provider APIs' base URL, when they are served: `simulate fine-tune` then works. */
  readonly fakeProvidersUrl?: string;
  /** How the printed sample is sent: `npm run send --` in this repository (default), `npx webhooks send` where the package is installed. */
  readonly sendCommand?: string;
}

/**
 * What `npm start` prints once it listens: where it is, then the next step a newcomer can copy
 * into a second terminal. Ports other than the defaults are spelled out, so each command works
 * as printed.
 */
export function readyLines(facts: ReadyFacts): string[] {
  const port = (url: string) => new URL(url).port;
  const provider = facts.providers[0];
  const sample = provider === undefined ? undefined : sampleTypes(provider)[0];
  const urlFlag = port(facts.url) === String(LOCAL_DEFAULT_PORTS.PORT) ? '' : ` --url ${facts.url}`;
  const emulatorEnv = [
    port(facts.dynamodbEndpoint) === String(LOCAL_DEFAULT_PORTS.DYNAMODB_PORT) ? '' : `DYNAMODB_PORT=${port(facts.dynamodbEndpoint)} `,
    port(facts.sqsEndpoint) === String(LOCAL_DEFAULT_PORTS.SQS_PORT) ? '' : `SQS_PORT=${port(facts.sqsEndpoint)} `,
  ].join('');
  // Every next step goes in this list.
  const nextSteps = [
    ...(provider === undefined || sample === undefined ? [] : [`  ${facts.sendCommand ?? 'npm run send --'} ${provider} ${sample}${urlFlag}`]),
    `  ${emulatorEnv}npx webhooks events list`,
    ...(facts.fakeProvidersUrl === undefined || !facts.providers.includes('openai')
      ? []
      : [
          'or run a whole fine-tune, then see its model and loss curve (`npx webhooks jobs show <key>`, or the console):',
          `  ${emulatorEnv}${port(facts.fakeProvidersUrl) === String(LOCAL_DEFAULT_PORTS.FAKE_PROVIDERS_PORT) ? '' : `FAKE_PROVIDERS_PORT=${port(facts.fakeProvidersUrl)} `}npx webhooks simulate fine-tune --provider openai${urlFlag}`,
        ]),
    ...(facts.consoleUrl === undefined ? [] : [`or open the web console: ${facts.consoleUrl}`]),
  ];
  return [`ready: ${facts.url}/health  (Ctrl-C to stop)`, 'next, in a second terminal: send a signed sample delivery, then see its event', ...nextSteps];
}
