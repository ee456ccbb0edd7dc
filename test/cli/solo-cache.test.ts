/**
 * The client commands run from their own file as a script with a code cache made after a run
 * (src/cli/solo-script.ts, scripts/solo-script.mjs): written once, after a run that exited 0, in
 * Node's compile-cache directory; read, not rewritten, by the next run; never written by a help
 * text or a failure; a cache V8 refuses is replaced; the commands still exit 0 and release.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DicomServer } from '../../src/ae/server.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { scenarioPki } from '../helpers/pki.js';
import { channelNames } from '../../src/diagnostics.js';
import { cacheVariant, soloCacheName, worthCaching } from '../../src/cli/solo-script.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { codeCaches } from '../helpers/code-caches.js';
import { freePort } from '../helpers/free-port.js';

interface SoloScript { soloScript(code: string, file: string): string }
const loadSoloScript = async (): Promise<SoloScript> =>
  (await import(fileURLToPath(new URL('../../../scripts/solo-script.mjs', import.meta.url)))) as SoloScript;

/** The child's environment with the compile cache in `dir` (and switched on). */
function env(dir: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { NODE_COMPILE_CACHE: dir, NODE_DISABLE_COMPILE_CACHE: undefined, ...extra };
}

/** Our code caches under dir (Node's own entries beside them are not ours). */
const caches = (dir: string) => codeCaches(dir);

/** Association life-cycle kinds the in-process server publishes while `fn` runs. */
async function kindsDuring(fn: () => Promise<void>): Promise<string[]> {
  const kinds: string[] = [];
  const on = (m: unknown): void => { kinds.push(String((m as { kind?: string }).kind)); };
  diagnosticsChannel.subscribe(channelNames.association, on);
  try {
    await fn();
  } finally {
    diagnosticsChannel.unsubscribe(channelNames.association, on);
  }
  return kinds;
}

test('echo writes its code cache after the first run that exits 0, reads it on the next, and releases each time', async () => {
  const { dir, cleanup } = tempDir('dicom-tls-solo-cache-');
  const server = new DicomServer({ aeTitle: 'CACHE-SCP' });
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    const args = ['echo', `127.0.0.1:${port}`, '--no-tls', '--call', 'CACHE-SCP'];
    let first!: Awaited<ReturnType<typeof runCli>>;
    const firstKinds = await kindsDuring(async () => { first = await runCli(args, { env: env(dir) }); });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Success over plain DICOM/);
    assert.ok(firstKinds.includes('released') && !firstKinds.includes('aborted'), `released, not aborted: ${firstKinds.join(', ')}`);
    const made = caches(dir);
    assert.equal(made.size, 1, `one cache, for echo: ${[...made.keys()].join(', ')}`);
    assert.match([...made.keys()][0]!, /dicom-tls-echo-plain-[0-9a-f]{16}-\d+-\d+\.cache$/);
    assert.ok([...made.values()][0]!.size > 0);

    let second!: Awaited<ReturnType<typeof runCli>>;
    const secondKinds = await kindsDuring(async () => { second = await runCli(args, { env: env(dir) }); });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stderr, '');
    assert.match(second.stdout, /Success over plain DICOM/);
    assert.ok(secondKinds.includes('released') && !secondKinds.includes('aborted'), `released, not aborted: ${secondKinds.join(', ')}`);
    assert.deepEqual(caches(dir), made, 'the cache was read, not rewritten');
  } finally {
    await server.close();
    cleanup();
  }
});

test('a plain and a TLS run of a command keep a cache each; each kind reads its own', async () => {
  const { dir, cleanup } = tempDir('dicom-tls-solo-cache-');
  const pki = scenarioPki();
  const plain = new DicomServer({ aeTitle: 'CACHE-SCP' });
  const tls = new DicomServer({ aeTitle: 'CACHE-SCP', tls: new SecureContext({ role: 'server', identity: pki.valid, ca: [pki.caA.cert] }) });
  const { port: plainPort } = await plain.listen(0, '127.0.0.1');
  const { port: tlsPort } = await tls.listen(0, '127.0.0.1');
  try {
    const plainArgs = ['echo', `127.0.0.1:${plainPort}`, '--no-tls', '--call', 'CACHE-SCP'];
    const tlsArgs = ['echo', `127.0.0.1:${tlsPort}`, '--call', 'CACHE-SCP', '--ca', pki.trustRoot, '--cert', pki.clientA.cert, '--key', pki.clientA.key];
    const first = await runCli(plainArgs, { env: env(dir) });
    assert.equal(first.code, 0, first.stderr);
    const afterPlain = caches(dir);
    assert.deepEqual([...afterPlain.keys()].map((k) => /dicom-tls-echo-(plain|tls)-/.exec(k)?.[1]), ['plain']);
    const secure = await runCli(tlsArgs, { env: env(dir) });
    assert.equal(secure.code, 0, secure.stderr);
    assert.match(secure.stdout, /Success over TLSv1\.3/);
    const afterTls = caches(dir);
    assert.deepEqual([...afterTls.keys()].map((k) => /dicom-tls-echo-(plain|tls)-/.exec(k)?.[1]).sort(), ['plain', 'tls'], 'the TLS run wrote a cache of its own');
    for (const [k, v] of afterPlain) assert.deepEqual(afterTls.get(k), v, 'the plain cache untouched');
    for (const args of [plainArgs, tlsArgs]) assert.equal((await runCli(args, { env: env(dir) })).code, 0);
    assert.deepEqual(caches(dir), afterTls, 'each kind read its own, none rewritten');
  } finally {
    await plain.close();
    await tls.close();
    cleanup();
  }
});

test('a cache V8 refuses (garbage in its place) is replaced after the next run; the command runs as ever', async () => {
  const { dir, cleanup } = tempDir('dicom-tls-solo-cache-');
  const server = new DicomServer({ aeTitle: 'CACHE-SCP' });
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    const args = ['echo', `127.0.0.1:${port}`, '--no-tls', '--call', 'CACHE-SCP'];
    assert.equal((await runCli(args, { env: env(dir) })).code, 0);
    const [name] = [...caches(dir).keys()];
    assert.ok(name !== undefined);
    const garbage = Buffer.alloc(4096, 0x5a);
    writeFileSync(join(dir, name), garbage);
    const r = await runCli(args, { env: env(dir) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /Success over plain DICOM/);
    assert.ok(!readFileSync(join(dir, name)).equals(garbage), 'the refused cache was replaced');
    assert.deepEqual(readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.tmp')), [], 'no temporary file left');
  } finally {
    await server.close();
    cleanup();
  }
});

test('a cache that can be neither read nor written (a directory in its place) changes nothing the user sees', async () => {
  const { dir, cleanup } = tempDir('dicom-tls-solo-cache-');
  const server = new DicomServer({ aeTitle: 'CACHE-SCP' });
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    const args = ['echo', `127.0.0.1:${port}`, '--no-tls', '--call', 'CACHE-SCP'];
    const first = await runCli(args, { env: env(dir) });
    assert.equal(first.code, 0, first.stderr);
    const [name] = [...caches(dir).keys()];
    assert.ok(name !== undefined);
    rmSync(join(dir, name));
    mkdirSync(join(dir, name));
    const r = await runCli(args, { env: env(dir) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout.replace(/ in \d+ ms/, ''), first.stdout.replace(/ in \d+ ms/, ''));
    assert.ok(statSync(join(dir, name)).isDirectory(), 'left as it was');
    assert.deepEqual(readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.tmp')), [], 'no temporary file left');
  } finally {
    await server.close();
    cleanup();
  }
});

test('no cache is written by a help text, by a failed command, or with the compile cache switched off', async () => {
  const { dir, cleanup } = tempDir('dicom-tls-solo-cache-');
  try {
    const help = await runCli(['echo', '--help'], { env: env(dir) });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: dicom-tls echo/);
    assert.equal(caches(dir).size, 0, 'not after --help');

    // Nothing listens there: connection refused, exit 8.
    const port = await freePort();
    const failed = await runCli(['echo', `127.0.0.1:${port}`, '--no-tls'], { env: env(dir) });
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /^error: /);
    assert.equal(caches(dir).size, 0, 'not after a failure');

    const server = new DicomServer({ aeTitle: 'CACHE-SCP' });
    const { port: open } = await server.listen(0, '127.0.0.1');
    try {
      const off = await runCli(['echo', `127.0.0.1:${open}`, '--no-tls', '--call', 'CACHE-SCP'], { env: env(dir, { NODE_DISABLE_COMPILE_CACHE: '1' }) });
      assert.equal(off.code, 0, off.stderr);
      assert.equal(caches(dir).size, 0, 'not with NODE_DISABLE_COMPILE_CACHE=1');
    } finally {
      await server.close();
    }
  } finally {
    cleanup();
  }
});

test('worthCaching: a run that exited 0, released an association and was not a help text; cacheVariant: plain TCP or TLS', () => {
  assert.equal(worthCaching(['echo', 'h:1'], 0, true), true);
  assert.equal(worthCaching(['echo', 'h:1'], 8, true), false);
  assert.equal(worthCaching(['serve'], 0, false), false);
  assert.equal(worthCaching(['echo', '--help'], 0, true), false);
  assert.equal(worthCaching(['store', '-h'], 0, true), false);
  assert.equal(soloCacheName('echo', 'tls', 'abc', 10, 12.7), 'dicom-tls-echo-tls-abc-10-12.cache');
  assert.equal(cacheVariant(['echo', 'h:1']), 'tls');
  for (const off of ['--no-tls', '-tls', '--disable-tls']) assert.equal(cacheVariant(['echo', 'h:1', off]), 'plain');
  assert.equal(cacheVariant(['serve', '--port', '2762']), 'tls');
  for (const plain of [['--plain-port', '104'], ['--plain-port=104']]) assert.equal(cacheVariant(['serve', ...plain]), 'plain');
});

test('soloScript: the module becomes one strict async function of import.meta.url, every line in its place', async () => {
  const { soloScript } = await loadSoloScript();
  const module = ['#!/usr/bin/env node', 'var a = await Promise.resolve(import.meta.url);', 'b = 1;', '//# sourceMappingURL=x.js.map'].join('\n');
  const script = soloScript(module, 'x.js');
  const lines = script.split('\n');
  assert.equal(lines[1], 'var a = await Promise.resolve(importMetaUrl);', 'the code keeps its line number');
  assert.equal(lines.at(-1), '//# sourceMappingURL=x.js.map', 'the source map comment stays last');
  const fn = (0, eval)(script) as (url: string) => Promise<void>;
  // Strict: an undeclared assignment throws, as in the module.
  await assert.rejects(fn('file:///x.js'), ReferenceError);
  const ok = (0, eval)(soloScript(['#!/usr/bin/env node', 'globalThis.__soloSeen = await Promise.resolve(import.meta.url);'].join('\n'), 'y.js')) as (url: string) => Promise<void>;
  await ok('file:///y.js');
  assert.equal((globalThis as { __soloSeen?: string }).__soloSeen, 'file:///y.js');
  assert.throws(() => soloScript('import { a } from "./a.js";\n', 'z.js'), /import or export statement/);
  assert.throws(() => soloScript('export const a = 1;\n', 'z.js'), /import or export statement/);
  assert.throws(() => soloScript('const d = import.meta.dirname;\n', 'z.js'), /import\.meta other than/);
  // A dynamic import is an expression, allowed.
  assert.doesNotThrow(() => soloScript('const m = import("./m.js");\n', 'z.js'));
  // A package's imports, static or dynamic, go through the second parameter, line for line.
  const pkg = soloScript(['import { a, b as c } from "pkg";', 'import d from "@scope/d";', 'import * as e from "e/sub";', 'globalThis.__soloPkg = [a, c, d, e.x, await import("f")];'].join('\n'), 'p.js');
  // The static ones first, on the opening line, in order; their lines left empty.
  assert.deepEqual(pkg.split('\n').slice(0, 4), [
    '(async function (importMetaUrl, importPackage) { "use strict"; const { a, b: c } = await importPackage("pkg"); const { default: d } = await importPackage("@scope/d"); const e = await importPackage("e/sub");',
    '', '', '',
  ]);
  const modules: Record<string, unknown> = { pkg: { a: 1, b: 2 }, '@scope/d': { default: 3 }, 'e/sub': { x: 4 }, f: 'f' };
  const run = (0, eval)(pkg) as (url: string, importPackage: (s: string) => Promise<unknown>) => Promise<void>;
  await run('file:///p.js', async (s) => modules[s]);
  assert.deepEqual((globalThis as { __soloPkg?: unknown }).__soloPkg, [1, 2, 3, 4, 'f']);
  assert.throws(() => soloScript('import a, { b } from "pkg";\n', 'z.js'), /cannot rewrite the import of pkg/);
});

test('with --enable-source-maps a client command runs from the general bundle: its stack frames name the TypeScript sources', async () => {
  const port = await freePort();
  // Nothing listens there: connection refused; --verbose prints the stack.
  const r = await runCli(['echo', `127.0.0.1:${port}`, '--no-tls', '--verbose'], { env: { NODE_OPTIONS: '--enable-source-maps' } });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /\n\s+at .*\.ts:\d+:\d+\)?\n/, r.stderr);
  assert.doesNotMatch(r.stderr, /solo\/echo\.js/, r.stderr);
});
