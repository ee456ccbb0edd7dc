/**
 * The serve config file's JSON Schema (schema/serve-config.schema.json, shipped in the package for
 * editors) is also what checks it: ajv compiles it, and each error becomes one sentence naming the
 * field, worded by the schema's "x-must" (what the field must be). The DICOM_TLS_* environment
 * variables are read through it too: their names and types come from the schema.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { usageError } from './errors.js';

export interface SchemaNode {
  type?: string | string[];
  description?: string;
  'x-must'?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  required?: string[];
}

/** The package's schema/ directory, from the source (dist/src/cli) or the bundle (dist/cli/chunks). */
function schemaPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'schema', 'serve-config.schema.json');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('schema/serve-config.schema.json is missing from the package');
}

let compiled: { schema: SchemaNode; validate: ValidateFunction } | undefined;

export function serveConfigSchema(): SchemaNode {
  return load().schema;
}

function load(): { schema: SchemaNode; validate: ValidateFunction } {
  if (compiled !== undefined) return compiled;
  const schema = JSON.parse(readFileSync(schemaPath(), 'utf8')) as SchemaNode;
  const ajv = new Ajv({ verbose: true, allErrors: false, strict: true, allowUnionTypes: true });
  ajv.addKeyword({ keyword: 'x-must', schemaType: 'string' });
  compiled = { schema, validate: ajv.compile(schema) };
  return compiled;
}

/** "/access/0/permissions" → "access[0].permissions" */
function fieldName(pointer: string): string {
  return pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`), '');
}

function sentence(e: ErrorObject, where: string): string {
  const field = fieldName(e.instancePath);
  const parent = e.parentSchema as SchemaNode | undefined;
  if (e.keyword === 'additionalProperties') {
    const key = (e.params as { additionalProperty: string }).additionalProperty;
    const known = Object.keys(parent?.properties ?? {}).filter((k) => k !== '$schema');
    return `${where}: unknown field "${field === '' ? key : `${field}.${key}`}" (known: ${known.join(', ')})`;
  }
  if (e.keyword === 'required') return `${where} ${field} needs "${(e.params as { missingProperty: string }).missingProperty}"`;
  // An item of an array field: the array's own wording names what its items must be.
  const node = parent?.['x-must'] !== undefined ? parent : undefined;
  const must = node?.['x-must'] ?? e.message ?? 'is not valid';
  return field === '' ? `${where} ${must}` : `${where} ${field} ${must}, got ${JSON.stringify(e.data)}`;
}

/** Throws a usage error naming the first field that breaks the schema. */
export function validateConfig(json: unknown, where = 'config'): void {
  const { validate } = load();
  if (validate(json)) return;
  let e = validate.errors![0]!;
  // Errors inside an array item with no wording of its own are worded by the array.
  const parent = e.parentSchema as SchemaNode | undefined;
  if (parent?.['x-must'] === undefined && /\/\d+$/.test(e.instancePath)) {
    const arrayPath = e.instancePath.replace(/\/\d+$/, '');
    const arrayNode = nodeAt(load().schema, arrayPath);
    if (arrayNode !== undefined) e = { ...e, instancePath: arrayPath, parentSchema: arrayNode, data: pointerGet(json, arrayPath) };
  }
  throw usageError(sentence(e, where));
}

function pointerGet(json: unknown, pointer: string): unknown {
  return pointer.split('/').slice(1).reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], json);
}

/** The schema node of an instance path (properties, items, additionalProperties followed). */
export function nodeAt(root: SchemaNode, pointer: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const k of pointer.split('/').slice(1)) {
    if (node === undefined) return undefined;
    if (/^\d+$/.test(k) && node.items !== undefined) node = node.items;
    else node = node.properties?.[k] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
  }
  return node;
}

const snake = (camel: string): string => camel.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** Every scalar or list setting as its environment variable: DICOM_TLS_PORT, DICOM_TLS_TLS__CERT, … */
export function environmentVariables(root: SchemaNode = serveConfigSchema()): Array<{ name: string; path: string[]; node: SchemaNode }> {
  const out: Array<{ name: string; path: string[]; node: SchemaNode }> = [];
  const walk = (node: SchemaNode, path: string[]): void => {
    for (const [k, child] of Object.entries(node.properties ?? {})) {
      if (k === '$schema') continue;
      const types = ([] as string[]).concat(child.type ?? []);
      if (types.includes('object') && child.properties !== undefined) walk(child, [...path, k]);
      else if (types.includes('object') || (types.includes('array') && child.items?.type === 'object')) continue; // structured: the file only
      else out.push({ name: `DICOM_TLS_${[...path, k].map(snake).join('__')}`, path: [...path, k], node: child });
    }
  };
  walk(root, []);
  return out;
}

/**
 * The DICOM_TLS_* variables set in `env`, written into the config object (they win over the
 * file): numbers and booleans as such, lists comma-separated. An unknown DICOM_TLS_ name is an
 * error (a typo would otherwise be silently ignored).
 */
export function applyEnvironment(json: Record<string, unknown>, env: NodeJS.ProcessEnv, ignore: readonly (string | undefined)[] = []): Record<string, unknown> {
  const known = new Map(environmentVariables().map((v) => [v.name, v]));
  for (const [name, raw] of Object.entries(env)) {
    // The variable that holds the key's password (--password-env) is not a setting.
    if (!name.startsWith('DICOM_TLS_') || raw === undefined || ignore.includes(name)) continue;
    const v = known.get(name);
    if (v === undefined) throw usageError(`unknown environment variable ${name} (serve reads: ${[...known.keys()].join(', ')})`);
    const types = ([] as string[]).concat(v.node.type ?? []);
    let value: unknown = raw;
    if (types.includes('integer')) value = /^-?\d+$/.test(raw) ? Number(raw) : raw;
    else if (types.includes('boolean')) value = raw === 'true' ? true : raw === 'false' ? false : raw;
    else if (types[0] === 'array') value = raw.split(',').map((x) => x.trim()).filter((x) => x !== '');
    let o = json;
    for (const k of v.path.slice(0, -1)) {
      const next = o[k];
      o = (o[k] = typeof next === 'object' && next !== null && !Array.isArray(next) ? next : {}) as Record<string, unknown>;
    }
    o[v.path.at(-1)!] = value;
  }
  return json;
}
