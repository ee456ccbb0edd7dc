/**
 * `diagnose` against ports that belong to other services, each a real server: node's HTTP
 * server, an SSH and an SMTP greeting (the banner is all diagnose reads), openssl s_server (TLS,
 * not DICOM) and DCMTK storescp (DICOM, not TLS). Each is named, with exit 12 and the fix, from
 * what the port says (or its silence after the A-ASSOCIATE-RQ), without --timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { once } from 'node:events';
import { scenarioPki } from '../helpers/pki.js';
import { startSServer } from '../helpers/openssl-peer.js';
import { hasDcmtk, startListening } from '../helpers/dcmtk.js';
import { runCli } from '../helpers/cli.js';

const pki = scenarioPki();

async function listen(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

interface Doc { verdict: string; hints: string[] }

async function diagnose(port: number, extra: string[] = []): Promise<{ code: number | null; doc: Doc; text: string }> {
  const r = await runCli(['diagnose', `127.0.0.1:${port}`, '--ca', pki.trustRoot, '--json', ...extra]);
  return { code: r.code, doc: JSON.parse(r.stdout) as Doc, text: r.stdout + r.stderr };
}

const banners: Array<[string, string, RegExp]> = [
  ['SSH', 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n', /port 22|listens on 22/],
  ['SMTP', '220 mail.example.org ESMTP Postfix\r\n', /25 or 587/],
];

for (const [name, banner, usual] of banners) {
  test(`diagnose names an ${name} port from its greeting: exit 12`, async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => { sockets.add(s); s.on('error', () => undefined); s.write(banner); });
    const port = await listen(server);
    try {
      const r = await diagnose(port);
      assert.equal(r.code, 12, r.text);
      assert.match(r.doc.verdict, new RegExp(`This port speaks ${name}, not DICOM over TLS`));
      assert.match(r.doc.hints.join('\n'), usual);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
}

test('diagnose names an HTTP port (node http): exit 12, over TLS and with --no-tls', async () => {
  const server = http.createServer((_q, s) => s.end('hello'));
  const port = await listen(server);
  try {
    const r = await diagnose(port);
    assert.equal(r.code, 12, r.text);
    assert.match(r.doc.verdict, /This port speaks HTTP, not DICOM over TLS/);
    assert.match(r.doc.hints.join('\n'), /80, 443 or 8080/);
    const plain = await runCli(['diagnose', `127.0.0.1:${port}`, '--no-tls', '--json']);
    assert.equal(plain.code, 12, plain.stdout + plain.stderr);
    assert.match((JSON.parse(plain.stdout) as Doc).verdict, /This port speaks HTTP, not DICOM:/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('diagnose names a TLS server that is not DICOM (openssl s_server) without --timeout: exit 12', async () => {
  const server = await startSServer({ cert: pki.valid.cert, key: pki.valid.key, naccept: 1 });
  try {
    const r = await diagnose(server.port);
    assert.equal(r.code, 12, r.text);
    assert.match(r.doc.verdict, /speaks TLS but not DICOM/);
  } finally {
    await server.close();
  }
});

test('diagnose names a DICOM server without TLS (DCMTK storescp): exit 12', { skip: hasDcmtk('storescp') ? false : 'storescp missing' }, async () => {
  const scp = await startListening('storescp', []);
  try {
    const r = await diagnose(scp.port);
    assert.equal(r.code, 12, r.text);
    assert.match(r.doc.verdict, /speaks DICOM without TLS/);
    assert.match(r.doc.hints.join('\n'), /--no-tls/);
  } finally {
    await scp.stop();
  }
});
