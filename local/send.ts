import { parseArgs } from 'node:util';
import { PROVIDER_NAMES, type ProviderName } from '../functions/core/event';
import { PROVIDERS } from '../functions/core/providers';
import { parseSecretList, signatureSchemeVariable } from '../functions/core/config';
import { buildDelivery, sampleTypes } from './deliveries';

const USAGE = `usage: npm run send -- <provider> <type> [options]

Sends a correctly signed sample delivery to a running receiver and prints the status and body.

providers and sample types:
${PROVIDER_NAMES.map((name) => `  ${name}: ${sampleTypes(name).join(', ')}`).join('\n')}

options:
  --url URL                 receiver base URL or full endpoint (default http://localhost:$PORT, PORT=3000)
  --secret S                signing secret (default: first of {PROVIDER}_WEBHOOK_SECRET, else the dev secret)
  --id ID                   event id (default: random); send the same id twice to see a duplicate
  --scheme NAME             signature scheme (Together: timestamped | body; default $TOGETHER_SIGNATURE_SCHEME)
  --timestamp-offset SECS   sign as if sent SECS seconds from now (e.g. -400 for a stale delivery)
  --body TEXT               sign and send TEXT instead of the sample body
  --body-bytes N            pad the sample body with whitespace to N bytes
  --tamper                  change one byte of the body after signing
`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      secret: { type: 'string' },
      id: { type: 'string' },
      scheme: { type: 'string' },
      'timestamp-offset': { type: 'string' },
      body: { type: 'string' },
      'body-bytes': { type: 'string' },
      tamper: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [providerName, type] = positionals;
  if (values.help || providerName === undefined || type === undefined) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (!(PROVIDER_NAMES as readonly string[]).includes(providerName)) {
    console.error(`unknown provider "${providerName}"; known: ${PROVIDER_NAMES.join(', ')}`);
    return 2;
  }
  const provider = providerName as ProviderName;
  const offset = Number(values['timestamp-offset'] ?? '0');
  if (!Number.isInteger(offset)) {
    console.error('--timestamp-offset must be a whole number of seconds');
    return 2;
  }
  const secret = values.secret ?? parseSecretList(process.env[PROVIDERS[provider].secretEnv])[0];
  const scheme = values.scheme ?? process.env[signatureSchemeVariable(provider)];
  const nowSeconds = Math.floor(Date.now() / 1000) + offset;
  const id = values.id ?? `evt_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  let body: string | Buffer | undefined = values.body;
  if (values['body-bytes'] !== undefined) {
    const size = Number(values['body-bytes']);
    if (!Number.isInteger(size) || size < 0) {
      console.error('--body-bytes must be a whole number of bytes');
      return 2;
    }
    const sample = buildDelivery({ provider, type, id, nowSeconds }).body.toString();
    body = sample.slice(0, -1) + ' '.repeat(Math.max(0, size - sample.length)) + '}';
  }
  const delivery = buildDelivery({
    provider,
    type,
    id,
    ...(secret === undefined ? {} : { secret }),
    ...(scheme === undefined || scheme === '' ? {} : { scheme }),
    ...(body === undefined ? {} : { body }),
    nowSeconds,
  });
  const payload = Buffer.from(delivery.body);
  if (values.tamper) payload[payload.length - 2] = (payload[payload.length - 2] ?? 0) ^ 0x01;

  const base = values.url ?? `http://localhost:${process.env.PORT ?? '3000'}`;
  const url = /\/webhooks\//.test(base) ? new URL(base) : new URL(delivery.path, base);
  const response = await fetch(url, { method: 'POST', headers: delivery.headers, body: payload });
  console.log(`${response.status} ${await response.text()}`);
  return response.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
