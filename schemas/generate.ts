/**
 * `npm run schemas`: writes the JSON Schema (draft 2020-12) of the normalized event into this
 * folder, from the zod schemas in `functions/core`: `event.json` for the envelope every event
 * shares, and one file per route with that route's canonical `data`. The files are checked in for
 * anyone who validates messages without our code; a test fails when they drift from the code.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as z from '../functions/core/zod';
import { eventEnvelopeSchema, normalizedEventSchema, SCHEMA_VERSION } from '../functions/core/event';
import { PROVIDER_NAMES } from '../functions/core/event';
import { PROVIDERS } from '../functions/core/providers';
import { ROUTES, type Route } from '../functions/core/routes';
import { API_FIELDS, type FieldSource } from '../functions/core/sources';

export const SCHEMAS_DIR = fileURLToPath(new URL('.', import.meta.url));

/** The file that holds the schema of `route`'s events. */
export const routeSchemaFile = (route: string): string => `${route}.json`;
export const ENVELOPE_SCHEMA_FILE = 'event.json';

const ADDITIVE =
  `Version ${SCHEMA_VERSION} of the normalized event (\`schemaVersion\`). Fields may be added within a version, ` +
  'so unknown fields are allowed; a field removed, renamed or retyped comes with a new version.';

/**
 * Every schema file, name → contents. `io: 'input'` describes what a consumer accepts, which is
 * also what leaves room for fields added within the version.
 */
export function jsonSchemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const write = (name: string, title: string, description: string, schema: z.ZodMiniType, sources: Record<string, string> = {}) => {
    const { $schema, ...rest } = z.toJSONSchema(schema, { io: 'input' });
    const fields = (rest.properties?.data as { properties?: Record<string, { description?: string }> } | undefined)?.properties ?? {};
    for (const [field, said] of Object.entries(sources)) {
      const property = fields[field];
      if (property !== undefined) property.description = `${property.description ?? ''} ${said}`.trim();
    }
    files.set(name, `${JSON.stringify({ $schema, title, description: `${description} ${ADDITIVE}`, ...rest }, null, 2)}\n`);
  };
  write(
    ENVELOPE_SCHEMA_FILE,
    'Normalized event',
    "The body of every message on a route's queue, whatever its route; `data` has the fields of the route's own schema.",
    eventEnvelopeSchema(),
  );
  for (const route of ROUTES) {
    const schema = normalizedEventSchema().def.options.find((option) => (option.shape.type.def.values as readonly string[]).includes(route));
    if (schema === undefined) throw new Error(`no event schema for route ${route}`);
    write(
      routeSchemaFile(route),
      `Normalized event: ${route}`,
      `The body of a message on the ${route} queue. Each field of \`data\` says where it comes from, per provider: the webhook's body (payload) or the provider's API.`,
      schema,
      sourcesOf(route),
    );
  }
  return files;
}

/**
 * Per provider (and per API-reading integration), where each canonical field of `route` comes
 * from; a provider that fills none of the route's fields is left out.
 */
export function fieldSources(route: Route): Record<string, Record<string, FieldSource>> {
  const sources: Record<string, Record<string, FieldSource>> = {};
  const add = (who: string, fields: readonly string[] | undefined, source: FieldSource) => {
    for (const field of fields ?? []) (sources[who] ??= {})[field] ??= source;
  };
  for (const provider of PROVIDER_NAMES) {
    add(provider, PROVIDERS[provider].payloadFields[route], 'payload');
    add(provider, API_FIELDS[provider]?.[route], 'api');
  }
  for (const [integration, routes] of Object.entries(API_FIELDS)) {
    if (!(PROVIDER_NAMES as readonly string[]).includes(integration)) add(integration, routes[route], 'api');
  }
  return sources;
}

/** Per field of `route`'s data, the sentence its schema adds: `From the payload: together, llmtune. From the API: openai.` */
function sourcesOf(route: Route): Record<string, string> {
  const sentences: Record<string, string> = {};
  const sources = fieldSources(route);
  const fields = new Set(Object.values(sources).flatMap((byField) => Object.keys(byField)));
  for (const field of fields) {
    const from = (source: FieldSource) => Object.keys(sources).filter((who) => sources[who]?.[field] === source);
    const payload = from('payload');
    const api = from('api');
    sentences[field] = [payload.length > 0 ? `From the payload: ${payload.join(', ')}.` : '', api.length > 0 ? `From the API: ${api.join(', ')}.` : ''].filter(Boolean).join(' ');
  }
  return sentences;
}

export const SOURCES_START = '<!-- field-sources:start (npm run schemas writes this table) -->';
export const SOURCES_END = '<!-- field-sources:end -->';

/** The table docs/contract.md shows between {@link SOURCES_START} and {@link SOURCES_END}. */
export function fieldSourcesTable(): string {
  const columns = [...PROVIDER_NAMES, ...Object.keys(API_FIELDS).filter((name) => !(PROVIDER_NAMES as readonly string[]).includes(name))];
  const lines = [`| route | field | ${columns.join(' | ')} |`, `|---|---|${columns.map(() => '---').join('|')}|`];
  for (const route of ROUTES) {
    const sources = fieldSources(route);
    const fields = [...new Set(Object.values(sources).flatMap((byField) => Object.keys(byField)))];
    for (const field of fields) lines.push(`| \`${route}\` | \`${field}\` | ${columns.map((column) => sources[column]?.[field] ?? '').join(' | ')} |`);
  }
  return `${SOURCES_START}\n${lines.join('\n')}\n${SOURCES_END}`;
}

/** docs/contract.md with its sources table replaced by the current one. */
export function withSourcesTable(markdown: string): string {
  const start = markdown.indexOf(SOURCES_START);
  const end = markdown.indexOf(SOURCES_END);
  if (start === -1 || end === -1) throw new Error(`docs/contract.md has no ${SOURCES_START} … ${SOURCES_END} block`);
  return `${markdown.slice(0, start)}${fieldSourcesTable()}${markdown.slice(end + SOURCES_END.length)}`;
}

export const CONTRACT_DOC = fileURLToPath(new URL('../docs/contract.md', import.meta.url));

function main(): void {
  for (const name of readdirSync(SCHEMAS_DIR)) if (name.endsWith('.json')) rmSync(new URL(name, pathToFileURL(SCHEMAS_DIR)));
  const files = jsonSchemaFiles();
  for (const [name, text] of files) writeFileSync(new URL(name, pathToFileURL(SCHEMAS_DIR)), text);
  writeFileSync(CONTRACT_DOC, withSourcesTable(readFileSync(CONTRACT_DOC, 'utf8')));
  console.log(`wrote ${files.size} schemas into ${SCHEMAS_DIR}, and the field sources table into docs/contract.md`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
