/**
 * The OpenSSL binding is lazy and checked: plain-TCP use and the CLI's help never load koffi nor
 * bind OpenSSL; a runtime that lacks what the engine binds gets one UnsupportedRuntimeError that
 * names the runtime and everything missing.
 *
 * "Loaded" is judged from outside the code under test: the process's shared objects, as Node's
 * diagnostic report lists them (koffi's native module appears there once it is loaded). Each
 * check runs in a child process so this one's state does not matter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DicomServer } from '../../../../src/ae/server.js';
import { versionShortfall, MINIMUM_OPENSSL_VERSION_NUMBER } from '../../../../src/transport/tls/openssl/lib.js';
import { UnsupportedRuntimeError } from '../../../../src/transport/tls/errors.js';
import { CLI, oneSentenceError, runCli, tempDir, type CliResult } from '../../../helpers/cli.js';

/** dist/ (this file is dist/test/transport/tls/openssl/binding.test.js). */
const dist = fileURLToPath(new URL('../../../../', import.meta.url));
const moduleUrl = (path: string): string => JSON.stringify(pathToFileURL(join(dist, path)).href);

const koffiLoadedJs = "process.report.getReport().sharedObjects.some((s) => /koffi[^/]*\\.node$/.test(s))";

function node(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

const tmp = tempDir('binding-test-');
test.after(() => tmp.cleanup());

/**
 * A preload for the CLI's process: at exit it writes whether koffi's native module was loaded.
 * `--require` of a CommonJS file runs before the bundled ES module entry.
 */
function exitProbe(): { args: string[]; env: NodeJS.ProcessEnv; loaded: () => boolean } {
  const out = join(tmp.dir, `probe-${Math.random().toString(36).slice(2)}.txt`);
  const preload = join(tmp.dir, 'exit-probe.cjs');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(process.env.KOFFI_PROBE_OUT, String(${koffiLoadedJs})));\n`);
  return {
    args: ['--require', preload],
    env: { KOFFI_PROBE_OUT: out },
    loaded: () => {
      const text = readFileSync(out, 'utf8');
      assert.ok(text === 'true' || text === 'false', text);
      return text === 'true';
    },
  };
}

async function cliWithProbe(args: string[]): Promise<{ r: CliResult; koffi: boolean }> {
  const probe = exitProbe();
  const r = await node([...probe.args, CLI, ...args], probe.env);
  return { r: { code: r.code, signal: null, stdout: r.stdout, stderr: r.stderr }, koffi: probe.loaded() };
}

test('a plain-TCP association through the public API never loads koffi; the first TLS call does', async () => {
  const script = `
    const api = await import(${moduleUrl('src/index.js')});
    const loaded = () => ${koffiLoadedJs};
    const server = new api.DicomServer({ aeTitle: 'PLAIN-SCP' });
    const { port } = await server.listen(0, '127.0.0.1');
    const client = await api.DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'PLAIN-SCU', calledAeTitle: 'PLAIN-SCP' });
    const status = (await client.echo()).status;
    await client.release();
    await server.close();
    const afterEcho = loaded();
    const version = api.opensslVersion();
    console.log(JSON.stringify({ status, afterEcho, afterTls: loaded(), version }));
  `;
  const r = await node(['--input-type=module', '-e', script]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as { status: number; afterEcho: boolean; afterTls: boolean; version: string };
  assert.equal(out.status, 0);
  assert.equal(out.afterEcho, false, 'koffi was loaded by a plain-TCP echo');
  // The control: the probe does see koffi once TLS is used, so "false" above means something.
  assert.equal(out.afterTls, true);
  // Node's version string may carry a build suffix ("3.0.13+quic") that OpenSSL's own lacks.
  assert.ok(out.version.startsWith(`OpenSSL ${process.versions.openssl.replace(/\+.*$/, '')}`), out.version);
});

test('dicom-tls --help, --version, a command\'s --help and a plain-TCP echo never load koffi; pki inspect does', async () => {
  for (const args of [['--help'], ['--version'], ['echo', '--help'], ['serve', '--help'], ['help', 'exit-codes']]) {
    const { r, koffi } = await cliWithProbe(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(koffi, false, `dicom-tls ${args.join(' ')} loaded koffi`);
  }
  const server = new DicomServer({ aeTitle: 'PLAIN-SCP' });
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    const { r, koffi } = await cliWithProbe(['echo', `127.0.0.1:${port}`, '--no-tls', '--call', 'PLAIN-SCP']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(koffi, false, 'dicom-tls echo --no-tls loaded koffi');
  } finally {
    await server.close();
  }
  const pki = await runCli(['pki', 'init', 'p'], { cwd: tmp.dir });
  assert.equal(pki.code, 0, pki.stderr);
  const { r, koffi } = await cliWithProbe(['pki', 'inspect', join(tmp.dir, 'p', 'ca.pem')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(koffi, true);
});

test('a missing OpenSSL function: one UnsupportedRuntimeError naming the runtime and the function, every time', async () => {
  // Every real declaration is imported (the public API loads all symbol tables) plus one symbol
  // no OpenSSL has; the error must name exactly that one, not koffi's message for it.
  const script = `
    const { lib, isBound } = await import(${moduleUrl('src/transport/tls/openssl/lib.js')});
    const api = await import(${moduleUrl('src/index.js')});
    lib.func('int dicomtls_no_such_function(int x)');
    const seen = [];
    for (const attempt of [() => new api.SecureContext({ role: 'client' }), () => api.opensslVersion()]) {
      try { attempt(); seen.push('no error'); } catch (e) { seen.push(e); }
    }
    const [a, b] = seen;
    console.log(JSON.stringify({
      same: a === b, isClass: a instanceof api.UnsupportedRuntimeError, name: a.name, code: a.code,
      runtime: a.runtime, missing: a.missing, message: a.message, cause: String(a.cause?.message), bound: isBound(),
    }));
  `;
  const r = await node(['--input-type=module', '-e', script]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
  assert.equal(out.same, true, 'the second call threw another error');
  assert.equal(out.isClass, true);
  assert.equal(out.name, 'UnsupportedRuntimeError');
  assert.equal(out.code, 'DICOM_TLS_ERR_UNSUPPORTED_RUNTIME');
  assert.equal(out.runtime, `Node ${process.version} (${process.platform}-${process.arch}, OpenSSL ${process.versions.openssl})`);
  assert.deepEqual(out.missing, ['dicomtls_no_such_function']);
  assert.equal(out.message, `TLS cannot run on ${String(out.runtime)}: it lacks dicomtls_no_such_function`);
  assert.match(String(out.cause), /dicomtls_no_such_function/); // koffi's own words stay as the cause
  assert.equal(out.bound, false);
});

test('each OpenSSL function is declared to koffi on its first call; every declaration in the symbol tables is one koffi accepts', async () => {
  const script = `
    const { declareAll, declarationCounts, isBound } = await import(${moduleUrl('src/transport/tls/openssl/lib.js')});
    const api = await import(${moduleUrl('src/index.js')});
    new api.SecureContext({ role: 'client' }).dispose();
    const afterContext = declarationCounts();
    const failed = declareAll();
    console.log(JSON.stringify({ bound: isBound(), afterContext, failed, afterAll: declarationCounts() }));
  `;
  const r = await node(['--input-type=module', '-e', script]);
  assert.equal(r.code, 0, r.stderr);
  type Counts = { recorded: number; declared: number };
  const out = JSON.parse(r.stdout.trim()) as { bound: boolean; afterContext: Counts; failed: unknown[]; afterAll: Counts };
  assert.equal(out.bound, true);
  // A client context calls a few dozen of the ~230 functions the tables record: only those are declared.
  assert.ok(out.afterContext.declared > 0 && out.afterContext.declared < out.afterContext.recorded / 2, JSON.stringify(out.afterContext));
  assert.deepEqual(out.failed, []);
  assert.equal(out.afterAll.declared, out.afterAll.recorded);
});

test("koffi's native module is taken from its platform package directly; without that package, through koffi's entry", async () => {
  const platformPackage = `@koromix/koffi-${process.platform}-${process.arch}`;
  const script = `
    import { createRequire } from 'node:module';
    const api = await import(${moduleUrl('src/index.js')});
    const version = api.opensslVersion();
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({
      version,
      platformPackage: loaded.some((f) => f.includes(${JSON.stringify(platformPackage)})),
      koffiEntry: loaded.some((f) => /[\\/]koffi[\\/]src[\\/]koffi[\\/]index\.cjs$/.test(f)),
    }));
  `;
  const fast = await node(['--input-type=module', '-e', script]);
  assert.equal(fast.code, 0, fast.stderr);
  const f = JSON.parse(fast.stdout.trim()) as Record<string, unknown>;
  assert.match(String(f.version), /^OpenSSL 3\./);
  assert.deepEqual([f.platformPackage, f.koffiEntry], [true, false]);
  // The platform package hidden from a bare require: koffi's entry loads the module its own way.
  const hide = join(tmp.dir, 'hide-platform-package.cjs');
  writeFileSync(hide, [
    "const Module = require('node:module');",
    'const resolve = Module._resolveFilename;',
    'Module._resolveFilename = function (request, ...rest) {',
    `  if (request === ${JSON.stringify(platformPackage)}) throw Object.assign(new Error('hidden'), { code: 'MODULE_NOT_FOUND' });`,
    '  return resolve.call(this, request, ...rest);',
    '};',
  ].join('\n'));
  const slow = await node(['--require', hide, '--input-type=module', '-e', script]);
  assert.equal(slow.code, 0, slow.stderr);
  const s = JSON.parse(slow.stdout.trim()) as Record<string, unknown>;
  assert.equal(s.version, f.version);
  assert.equal(s.koffiEntry, true);
});

test('no koffi build for the platform: the CLI prints one sentence and exits 17 (unavailable)', async () => {
  // Stands in for a platform koffi has no prebuilt module for: resolving 'koffi' fails.
  const hide = join(tmp.dir, 'hide-koffi.cjs');
  writeFileSync(hide, [
    "const Module = require('node:module');",
    'const resolve = Module._resolveFilename;',
    "Module._resolveFilename = function (request, ...rest) {",
    "  if (request === 'koffi') throw Object.assign(new Error(\"Cannot find module 'koffi'\"), { code: 'MODULE_NOT_FOUND' });",
    '  return resolve.call(this, request, ...rest);',
    '};',
  ].join('\n'));
  const pki = await runCli(['pki', 'init', 'q'], { cwd: tmp.dir });
  assert.equal(pki.code, 0, pki.stderr);
  const r = await node(['--require', hide, CLI, 'pki', 'inspect', join(tmp.dir, 'q', 'ca.pem')]);
  assert.equal(r.code, 17, r.stderr);
  const e = oneSentenceError({ code: r.code, signal: null, stdout: r.stdout, stderr: r.stderr });
  assert.equal(e.code, 'DICOM_TLS_ERR_UNSUPPORTED_RUNTIME');
  assert.equal(e.sentence, `TLS cannot run on Node ${process.version} (${process.platform}-${process.arch}, OpenSSL ${process.versions.openssl}): it lacks the koffi native module for ${process.platform}-${process.arch}.`);
  // A plain-TCP command still works in that runtime.
  const plain = await node(['--require', hide, CLI, '--version']);
  assert.equal(plain.code, 0, plain.stderr);
});

test('the version check: OpenSSL 3.0.0 and newer pass, 1.1.1 is named as too old', () => {
  assert.equal(MINIMUM_OPENSSL_VERSION_NUMBER, 0x30000000);
  assert.equal(versionShortfall(0x30000000, 'OpenSSL 3.0.0 7 sep 2021'), undefined);
  assert.equal(versionShortfall(0x30500090, 'OpenSSL 3.5.9 1 Jul 2026'), undefined);
  assert.equal(versionShortfall(0x1010117f, 'OpenSSL 1.1.1w  11 Sep 2023'),
    'OpenSSL 3.0 or newer (it links OpenSSL 1.1.1w  11 Sep 2023)');
  const e = new UnsupportedRuntimeError('Node v16.20.2 (linux-x64, OpenSSL 1.1.1v+quic)', ['OpenSSL 3.0 or newer (it links OpenSSL 1.1.1v+quic)']);
  assert.equal(e.message, 'TLS cannot run on Node v16.20.2 (linux-x64, OpenSSL 1.1.1v+quic): it lacks OpenSSL 3.0 or newer (it links OpenSSL 1.1.1v+quic)');
});
