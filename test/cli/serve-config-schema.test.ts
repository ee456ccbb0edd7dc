/**
 * The serve config's JSON Schema is the checker and the documentation: docs/serve-config.md is
 * generated from it, the file may hold comments, DICOM_TLS_* variables override it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveSettings } from '../../src/cli/serve-config.js';
import { environmentVariables, serveConfigSchema } from '../../src/cli/serve-config-schema.js';
import { profileNames } from '../../src/cli/tls-options.js';
import { spawnServe, listening } from '../helpers/serve-process.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

function withConfig<T>(text: string, fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'serve-schema-'));
  try {
    writeFileSync(join(dir, 'c.json'), text);
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('docs/serve-config.md is generated from the schema (run: node scripts/serve-config-docs.mjs)', async () => {
  const { render } = (await import(`${root}scripts/serve-config-docs.mjs`)) as { render(): string };
  assert.equal(readFileSync(`${root}docs/serve-config.md`, 'utf8'), render());
  // Every variable the program reads is in the page.
  const page = readFileSync(`${root}docs/serve-config.md`, 'utf8');
  for (const v of environmentVariables()) assert.ok(page.includes(`\`${v.name}\``), v.name);
});

test('the schema ships in the package and its enums are the program\'s', () => {
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { files: string[] };
  assert.ok(pkg.files.includes('schema'));
  const schema = serveConfigSchema();
  assert.deepEqual(schema.properties!.tls!.properties!.profile!.enum, profileNames);
});

test('JSON with comments, trailing commas and "$schema" is read; a syntax error names line and column', () => {
  const s = withConfig(`{
    "$schema": "./node_modules/dicom-tls/schema/serve-config.schema.json",
    // our AE title
    "aet": "PACS", /* the archive */
    "limits": { "maxQueryMatches": 10, },
    "tls": { "devPki": true },
  }`, (dir) => serveSettings({ config: 'c.json' }, dir));
  assert.equal(s.aet, 'PACS');
  assert.deepEqual(s.limits, { maxQueryMatches: 10 });
  assert.equal(s.devPki, true);
  assert.throws(() => withConfig('{\n  "aet": "PACS"\n  "port": 1\n}', (dir) => serveSettings({ config: 'c.json' }, dir)),
    /is not valid JSON: CommaExpected at line 3, column 3/);
});

test('schema errors name the field: unknown fields, types, ranges, enums, array items', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ colour: 'blue' }, /config: unknown field "colour" \(known: aet, port/],
    [{ tls: { cert: 'a', colour: 1 } }, /config: unknown field "tls\.colour"/],
    [{ port: 70000 }, /config port must be a port number, got 70000/],
    [{ log: { level: 'loud' } }, /config log\.level must be a level name, got "loud"/],
    [{ http: { port: 'x' } }, /config http\.port must be a port number/],
    [{ access: [{ aet: 'X', permissions: ['read'] }] }, /config access\[0\]\.permissions must be a list of "echo", "store", "query", "retrieve"/],
    [{ moveDestinations: { WS: { host: 'h' } } }, /config moveDestinations\.WS needs "port"/],
  ];
  for (const [json, re] of cases) assert.throws(() => withConfig(JSON.stringify(json), (dir) => serveSettings({ config: 'c.json' }, dir)), re, JSON.stringify(json));
});

test('DICOM_TLS_* variables override the file; the command line wins over them; unknown or wrong ones are errors', () => {
  const env = { DICOM_TLS_AET: 'ENVAE', DICOM_TLS_PORT: '0', DICOM_TLS_TLS__SESSION_LIFETIME: '60', DICOM_TLS_LIMITS__MAX_QUERY_MATCHES: '5',
    DICOM_TLS_TLS__CA: 'a.pem, b.pem', DICOM_TLS_LOG__PHI: 'true', DICOM_TLS_HTTP__PORT: '9100' };
  const s = withConfig(JSON.stringify({ aet: 'FILE', port: 2762, limits: { maxConcurrentQueries: 2 } }), (dir) => {
    const r = serveSettings({ config: 'c.json' }, dir, env);
    assert.deepEqual(r.tls.ca, [join(dir, 'a.pem'), join(dir, 'b.pem')]);
    return r;
  });
  assert.equal(s.aet, 'ENVAE');
  assert.equal(s.port, 0);
  assert.equal(s.sessionLifetime, 60);
  assert.deepEqual(s.limits, { maxConcurrentQueries: 2, maxQueryMatches: 5 });
  assert.equal(s.log.phi, true);
  assert.deepEqual(s.http, { port: 9100, host: '127.0.0.1' });
  assert.equal(serveSettings({ aet: 'CLI' }, tmpdir(), env).aet, 'CLI');
  assert.throws(() => serveSettings({}, tmpdir(), { DICOM_TLS_PROT: '1' }), /unknown environment variable DICOM_TLS_PROT \(serve reads: DICOM_TLS_AET, DICOM_TLS_PORT/);
  assert.equal(serveSettings({ 'password-env': 'DICOM_TLS_KEY_PASSWORD' }, tmpdir(), { DICOM_TLS_KEY_PASSWORD: 'x' }).port, 2762, 'the password variable is not a setting');
  assert.throws(() => serveSettings({}, tmpdir(), { DICOM_TLS_PORT: 'eleven' }), /config \(with the DICOM_TLS_\* environment\) port must be a port number, got "eleven"/);
});

test('the binary reads a commented config and the environment', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'serve-schema-bin-'));
  try {
    writeFileSync(join(dir, 'serve.jsonc'), '{\n  // development PKI on purpose\n  "tls": { "devPki": true },\n  "data": "data",\n}\n');
    const p = spawnServe(['--config', 'serve.jsonc', '--host', '127.0.0.1', '--port', '0'], { cwd: dir, env: { DICOM_TLS_AET: 'FROM-ENV' } });
    try {
      await listening(p);
      assert.match(p.output(), /listening for DICOM over TLS on 127\.0\.0\.1:\d+ as AE FROM-ENV/);
    } finally { await p.kill(); }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('"storage": a directory relative to the file, s3:// with its options, DICOM_TLS_STORAGE__* and --storage over the file; bad values named', async () => {
  withConfig('{ "storage": { "url": "archive" } }', (dir) => {
    assert.deepEqual(serveSettings({ config: join(dir, 'c.json') }, '/elsewhere').storage, { url: join(dir, 'archive') });
  });
  withConfig('{ "storage": { "url": "s3://dicom/site-a", "endpoint": "http://10.0.0.9:9000", "region": "eu-west-1", "forcePathStyle": true, "partSize": 16777216 } }', (dir) => {
    const s = serveSettings({ config: join(dir, 'c.json') }, dir);
    assert.deepEqual(s.storage, { url: 's3://dicom/site-a', endpoint: 'http://10.0.0.9:9000', region: 'eu-west-1', forcePathStyle: true, partSize: 16777216 });
    assert.equal(serveSettings({ config: join(dir, 'c.json'), storage: 'file:///srv/dicom' }, dir).storage?.url, 'file:///srv/dicom');
  });
  const env = { DICOM_TLS_STORAGE__URL: 's3://b/p', DICOM_TLS_STORAGE__FORCE_PATH_STYLE: 'true', DICOM_TLS_STORAGE__ENDPOINT: 'http://127.0.0.1:9000' };
  assert.deepEqual(serveSettings({}, '/x', env).storage, { url: 's3://b/p', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
  assert.equal(serveSettings({}, '/x').storage, undefined);
  assert.throws(() => serveSettings({ storage: 'http://example.test/x' }, '/x'), /--storage must be s3:\/\/bucket\/prefix/);
  assert.throws(() => serveSettings({ storage: 's3://' }, '/x'), /names no bucket/);
  withConfig('{ "storage": { "url": "s3://b", "partSize": 1024 } }', (dir) => {
    assert.throws(() => serveSettings({ config: join(dir, 'c.json') }, dir), /partSize/);
  });
  withConfig('{ "storage": { "endpoint": "http://h:9000" } }', (dir) => {
    assert.throws(() => serveSettings({ config: join(dir, 'c.json') }, dir), /"storage" needs a "url"/);
  });
});
