/**
 * The bundled executable (scripts/bundle-cli.mjs): Node's modules are taken with
 * process.getBuiltinModule, never an ES import (which reads every export and loads what the lazy
 * ones need), and the client commands run from a file of their own that holds that command alone
 * and says what the general bundle says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, runCli } from '../helpers/cli.js';

const cliDir = dirname(CLI);
const SOLO = ['echo', 'store', 'find', 'move', 'get'];

interface BuiltinImports { builtinImports(code: string, file: string): string }
const scripts = fileURLToPath(new URL('../../../scripts/builtin-imports.mjs', import.meta.url));
const load = async (): Promise<BuiltinImports> => (await import(scripts)) as BuiltinImports;

test('builtinImports: default, namespace and named imports of a built-in become process.getBuiltinModule reads, one line each', async () => {
  const { builtinImports } = await load();
  const code = [
    'import net from "node:net";',
    'import * as nodeModule from "node:module";',
    'import { readFileSync, statSync as statSync2 } from "node:fs";',
    'import { a } from "./chunk-X.js";',
    'const s = "import x from \\"node:fs\\";";',
  ].join('\n');
  assert.equal(builtinImports(code, 'f.js'), [
    'const net = process.getBuiltinModule("node:net");',
    'const nodeModule = process.getBuiltinModule("node:module");',
    'const { readFileSync, statSync: statSync2 } = process.getBuiltinModule("node:fs");',
    'import { a } from "./chunk-X.js";',
    'const s = "import x from \\"node:fs\\";";',
  ].join('\n'));
  assert.throws(() => builtinImports('import def, { named } from "node:fs";', 'f.js'), /cannot rewrite the import of node:fs/);
});

test('no file of the bundle imports a built-in as an ES module', () => {
  const files = [...readdirSync(cliDir).map((n) => join(cliDir, n)), ...readdirSync(join(cliDir, 'chunks')).map((n) => join(cliDir, 'chunks', n)), ...readdirSync(join(cliDir, 'solo')).map((n) => join(cliDir, 'solo', n))]
    .filter((f) => f.endsWith('.js'));
  assert.ok(files.length > 10);
  for (const f of files) assert.doesNotMatch(readFileSync(f, 'utf8'), /^import\b[^;]*["']node:/m, f);
});

test('every file of the bundle is ASCII (read by V8 as a one-byte string); asciiOnly escapes what is not', async () => {
  const files = [...readdirSync(cliDir).map((n) => join(cliDir, n)), ...readdirSync(join(cliDir, 'chunks')).map((n) => join(cliDir, 'chunks', n)), ...readdirSync(join(cliDir, 'solo')).map((n) => join(cliDir, 'solo', n))]
    .filter((f) => f.endsWith('.js'));
  for (const f of files) assert.doesNotMatch(readFileSync(f, 'latin1'), /[^\x00-\x7f]/, f);
  const { asciiOnly } = (await import(fileURLToPath(new URL('../../../scripts/ascii-only.mjs', import.meta.url)))) as { asciiOnly(code: string): string };
  const code = '// A → B …\nconst s = "→😀"; const r = /é/;\n';
  const out = asciiOnly(code);
  assert.doesNotMatch(out, /[^\x00-\x7f]/);
  assert.equal(out.split('\n').length, code.split('\n').length);
  // The literals mean what they meant.
  const run = (c: string): unknown => new Function(`${c}; return [s, r.source, r.test('é')];`)();
  assert.deepEqual(run(out), ['→😀', '\\u00e9', true]);
  assert.deepEqual((run(code) as unknown[])[0], '→😀');
});

test('each client command has its own file, without the server and its dependencies', () => {
  for (const name of SOLO) {
    const code = readFileSync(join(cliDir, 'solo', `${name}.js`), 'utf8');
    assert.doesNotMatch(code, /^import\b/m, `${name}: nothing imported, all in one file`);
    for (const absent of ['node:sqlite', 'pino', 'prom-client', 'ajv']) assert.ok(!code.includes(`"${absent}"`), `${name} holds ${absent}`);
  }
});

test('a command run from its own file says what the general bundle says: `X --help` and `help X` agree', async () => {
  for (const name of SOLO) {
    const own = await runCli([name, '--help']);
    const general = await runCli(['help', name]);
    assert.equal(own.code, 0, own.stderr);
    assert.equal(general.code, 0, general.stderr);
    assert.equal(own.stdout, general.stdout, name);
    assert.match(own.stdout, new RegExp(`^Usage: dicom-tls ${name} `));
  }
  // A subcommand of a solo command is the general bundle's.
  const check = await runCli(['store', 'check', '--help']);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /^Usage: dicom-tls store check/);
});

test('`--version` is answered by the entry alone, with the version main.ts and package.json give', async () => {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };
  const entry = readFileSync(CLI, 'utf8');
  assert.doesNotMatch(entry, /^import\b/m, 'the entry imports nothing before it answers');
  for (const args of [['--version'], ['-V'], ['--version', '--verbose']]) {
    const r = await runCli(args);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${pkg.version}\n`, args.join(' '));
    assert.equal(r.stderr, '');
  }
});
