/**
 * Certificates change without downtime: SIGHUP and --watch-certs reload key, certificate and CA;
 * a running association continues on the old context, new ones use the new; a failed reload
 * keeps the old; certificates close to expiry are warned about.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';
import { writeServePki, type ServePki } from '../helpers/serve-pki.js';
import { scenarioPki } from '../helpers/pki.js';

const tmp = tempDir('cli-serve-reload-');
after(() => tmp.cleanup());

function install(from: ServePki, live: string): void {
  copyFileSync(from.server, join(live, 'server.pem'));
  copyFileSync(from.serverKey, join(live, 'server-key.pem'));
  copyFileSync(from.ca, join(live, 'ca.pem'));
}

const echo = (port: number, p: ServePki) => runCli(['echo', `127.0.0.1:${port}`, '--call', 'DICOM-TLS', '--ca', p.ca, '--cert', p.client, '--key', p.clientKey]);

async function serveLive(name: string, extra: string[] = []) {
  const a = writeServePki(join(tmp.dir, name, 'a'), `${name} A`);
  const b = writeServePki(join(tmp.dir, name, 'b'), `${name} B`);
  const live = join(tmp.dir, name, 'live');
  writeServePki(live, 'unused');
  install(a, live);
  const config = join(tmp.dir, name, 'serve.json');
  writeFileSync(config, JSON.stringify({ data: 'data', tls: { cert: 'live/server.pem', key: 'live/server-key.pem', ca: ['live/ca.pem'] } }));
  const p = spawnServe(['--config', config, '--host', '127.0.0.1', '--port', '0', ...extra], { cwd: tmp.dir });
  const { port } = await listening(p);
  return { a, b, live, p, port };
}

test('SIGHUP: new associations use the new certificate and CA, a running one continues, a failed reload keeps the current ones', async () => {
  const { a, b, live, p, port } = await serveLive('hup');
  try {
    assert.equal((await echo(port, a)).code, 0);
    // An association open across the reload, on the old context.
    const { DicomClient } = await import('../../src/ae/client.js');
    const { SecureContext } = await import('../../src/transport/tls/context.js');
    const ctx = new SecureContext({ role: 'client', ca: [a.ca], identity: { cert: a.client, key: a.clientKey } });
    const running = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'LONG', calledAeTitle: 'DICOM-TLS', tls: ctx });
    try {
      install(b, live);
      p.child.kill('SIGHUP');
      await p.waitFor(/SIGHUP: TLS files reloaded; new associations use them \(certificate CN=hup B server/);
      assert.equal((await echo(port, b)).code, 0, 'the new CA and certificate');
      assert.notEqual((await echo(port, a)).code, 0, 'the old CA is no longer trusted');
      await running.echo(); // the running association still works
      await running.release();
    } finally { ctx.dispose(); }
    // A broken certificate file: the reload fails, the current context stays.
    writeFileSync(join(live, 'server.pem'), '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    p.child.kill('SIGHUP');
    await p.waitFor(/error: SIGHUP: reloading the TLS files failed, the current certificates stay in use: /);
    assert.equal((await echo(port, b)).code, 0, 'still serving with B');
    p.child.kill('SIGTERM');
    assert.equal((await p.exited).code, 0);
  } finally { await p.kill(); }
});

test('SIGHUP with an expired certificate and its key on disk: refused, the current certificate stays in use, and the log says why', async () => {
  const { a, live, p, port } = await serveLive('expired');
  try {
    // A matching pair that OpenSSL loads: only its dates are wrong (an old file copied back).
    const expired = scenarioPki().expired;
    copyFileSync(expired.cert, join(live, 'server.pem'));
    copyFileSync(expired.key, join(live, 'server-key.pem'));
    p.child.kill('SIGHUP');
    await p.waitFor(/error: SIGHUP: reloading the TLS files failed, the current certificates stay in use: the new certificate .* expired on /);
    assert.doesNotMatch(p.output(), /SIGHUP: TLS files reloaded/);
    assert.equal((await echo(port, a)).code, 0, 'still serving with A');
  } finally { await p.kill(); }
});

test('--watch-certs: replacing the files reloads them without a signal', async () => {
  const { b, live, p, port } = await serveLive('watch', ['--watch-certs']);
  try {
    install(b, live);
    await p.waitFor(/server\.pem changed: TLS files reloaded|server-key\.pem changed: TLS files reloaded|ca\.pem changed: TLS files reloaded/);
    assert.equal((await echo(port, b)).code, 0);
  } finally { await p.kill(); }
});

test('a certificate expiring within the warning period is warned about at start; --expiry-warning-days sets the period', async () => {
  const soon = writeServePki(join(tmp.dir, 'soon'), 'soon', { serverDays: 10, crlDays: 400 });
  const args = ['--host', '127.0.0.1', '--port', '0', '--data', join(tmp.dir, 'soon', 'data'), '--cert', soon.server, '--key', soon.serverKey, '--ca', soon.ca];
  const warned = spawnServe(args, { cwd: tmp.dir });
  try {
    await listening(warned);
    assert.match(warned.output(), /warning: the server certificate CN=soon server \(\S+server\.pem\) expires in 9 days \(\d{4}-.*\); replace it and send SIGHUP/);
  } finally { await warned.kill(); }
  const quiet = spawnServe([...args, '--expiry-warning-days', '5'], { cwd: tmp.dir });
  try {
    await listening(quiet);
    assert.doesNotMatch(quiet.output(), /warning: .*expires in/);
  } finally { await quiet.kill(); }
});
