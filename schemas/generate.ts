/**
 * `npm run schemas`: writes the JSON Schema (draft 2020-12) of the normalized event into this
 * folder, from the zod schemas in `functions/core`: `event.json` for the envelope every event
 * shares, and one file per route with that route's canonical `data`. The files are checked in for
 * anyone who validates messages without our code; a test fails when they drift from the code.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as z from '../functions/core/zod';
import { EventEnvelopeSchema, NormalizedEventSchema, SCHEMA_VERSION } from '../functions/core/event';
import { ROUTES } from '../functions/core/routes';

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
  const write = (name: string, title: string, description: string, schema: z.ZodMiniType) => {
    const { $schema, ...rest } = z.toJSONSchema(schema, { io: 'input' });
    files.set(name, `${JSON.stringify({ $schema, title, description: `${description} ${ADDITIVE}`, ...rest }, null, 2)}\n`);
  };
  write(
    ENVELOPE_SCHEMA_FILE,
    'Normalized event',
    "The body of every message on a route's queue, whatever its route; `data` has the fields of the route's own schema.",
    EventEnvelopeSchema,
  );
  for (const route of ROUTES) {
    const schema = NormalizedEventSchema.def.options.find((option) => (option.shape.type.def.values as readonly string[]).includes(route));
    if (schema === undefined) throw new Error(`no event schema for route ${route}`);
    write(routeSchemaFile(route), `Normalized event: ${route}`, `The body of a message on the ${route} queue.`, schema);
  }
  return files;
}

function main(): void {
  for (const name of readdirSync(SCHEMAS_DIR)) if (name.endsWith('.json')) rmSync(new URL(name, pathToFileURL(SCHEMAS_DIR)));
  const files = jsonSchemaFiles();
  for (const [name, text] of files) writeFileSync(new URL(name, pathToFileURL(SCHEMAS_DIR)), text);
  console.log(`wrote ${files.size} schemas into ${SCHEMAS_DIR}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
