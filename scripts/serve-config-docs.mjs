/**
 * Writes docs/serve-config.md from schema/serve-config.schema.json: every field with its type,
 * default and description, and the DICOM_TLS_* variable that sets it. The page is generated, never
 * edited by hand; a test fails when it is stale (run: node scripts/serve-config-docs.mjs).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const snake = (c) => c.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

function type(n) {
  const t = [].concat(n.type ?? []);
  if (n.enum) return n.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  const parts = t.map((x) => (x === 'array' ? `array of ${n.items?.enum ? n.items.enum.map((v) => `"${v}"`).join('/') : n.items?.type ?? 'any'}` : x === 'integer' ? 'whole number' : x));
  const range = n.minimum !== undefined || n.maximum !== undefined ? ` (${n.minimum ?? ''}–${n.maximum ?? ''})`.replace('(–', '(≤ ').replace(/\((\d+)–\)/, '(≥ $1)') : '';
  return `${parts.join(' or ')}${range}`;
}

function rows(node, path, env, out) {
  for (const [k, n] of Object.entries(node.properties ?? {})) {
    const p = [...path, k];
    const t = [].concat(n.type ?? []);
    const structured = t.includes('object') && !n.properties || (t.includes('array') && n.items?.type === 'object');
    const variable = k === '$schema' || structured || (t.includes('object') && n.properties) ? '' : `\`DICOM_TLS_${p.map(snake).join('__')}\``;
    out.push(`| \`${p.join('.')}\` | ${type(n)} | ${n.default === undefined ? '' : `\`${JSON.stringify(n.default)}\``} | ${variable} | ${n.description ?? ''} |`);
    if (t.includes('object') && n.properties) rows(n, p, env, out);
    if (t.includes('object') && typeof n.additionalProperties === 'object') rows(n.additionalProperties, [...p, '<AE>'], env, out);
    if (t.includes('array') && n.items?.properties) rows(n.items, [...p.slice(0, -1), `${k}[]`], env, out);
  }
}

export function render() {
  const schema = JSON.parse(readFileSync(`${root}schema/serve-config.schema.json`, 'utf8'));
  const out = [];
  rows(schema, [], true, out);
  return `<!-- Generated from schema/serve-config.schema.json by scripts/serve-config-docs.mjs: do not edit. -->
# serve configuration file

${schema.description}

Editors complete and check the file from its JSON Schema, which the package ships as
\`schema/serve-config.schema.json\`: name it in the file,

\`\`\`jsonc
{
  "$schema": "./node_modules/dicom-tls/schema/serve-config.schema.json",
  // comments and trailing commas are allowed
  "aet": "PACS",
  "tls": { "cert": "server.pem", "key": "server-key.pem", "ca": ["ca.pem"] },
}
\`\`\`

\`dicom-tls serve\` checks the file against the same schema before it starts and names the first
field that breaks it (\`config limits.maxConcurrentQueries must be a whole number ≥ 1, got 0\`).

## Environment variables

Every field that holds a value (not an object or a list of objects) can be set with an
environment variable: \`DICOM_TLS_\` and the field's path, each name in upper snake case, nested
names joined by \`__\` (\`tls.sessionLifetime\` → \`DICOM_TLS_TLS__SESSION_LIFETIME\`). Numbers and
\`true\`/\`false\` are read as such, lists as comma-separated values. The environment wins over the
file, the command line over both. An unknown \`DICOM_TLS_\` variable is an error, so a typo is not
silently ignored (the variable named by \`--password-env\` or \`tls.passwordEnv\` excepted). Relative
paths in variables are relative to the configuration file's directory (the working directory
without one).

## Fields

| field | type | default | environment | meaning |
|---|---|---|---|---|
${out.join('\n')}
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(`${root}docs/serve-config.md`, render());
