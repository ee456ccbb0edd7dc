// The runnable examples in examples/ run against a real `openssl s_server` with certificates made
// at test time, so the code the docs point to cannot rot.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { makeEngineCerts, startSServer, type EngineCerts } from '../transport/tls/engine-fixtures.js';

let c: EngineCerts;
before(() => { c = makeEngineCerts(); });
after(() => c.cleanup());

const example = (name: string): string => fileURLToPath(new URL(`../../examples/${name}.js`, import.meta.url));

/** Run an example with `node`; resolves with its exit code and stdout (a hang guard kills it). */
function run(name: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [example(name), ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

for (const style of ['register', 'class'] as const) {
  test(`verify-callback example (${style} style) prints every call in OpenSSL's order and connects`, async () => {
    const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey]);
    try {
      const r = await run('verify-callback', ['--port', String(port), '--ca', c.caCert, '--style', style]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), [
        `[${style}] verify depth=1 ok=1 error=0 X509_V_OK "ok"`,
        `[${style}]   Subject Name: CN = Engine Test CA, O = dicom-tls tests`,
        `[${style}] verify depth=0 ok=1 error=0 X509_V_OK "ok"`,
        `[${style}]   Subject Name: CN = localhost`,
        `[${style}] connected: TLSv1.3 ${/TLS_AES_\S+/.exec(r.stdout)?.[0]} verify=X509_V_OK`,
      ]);
    } finally {
      await server.kill();
    }
  });
}

test("verify-callback example: the seeds' INVALID_PURPOSE case fails the handshake when the callback returns ok", async () => {
  const { port, server } = await startSServer(['-cert', c.emailCert, '-key', c.emailKey]);
  try {
    const r = await run('verify-callback', ['--port', String(port), '--ca', c.caCert, '--style', 'register']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], '[register] verify depth=0 ok=0 error=26 X509_V_ERR_INVALID_PURPOSE "unsuitable certificate purpose"');
    assert.equal(lines[1], '[register]   Subject Name: CN = Email Only');
    assert.match(lines[2] ?? '', /^\[register\] handshake failed: DICOM_TLS_ERR_HANDSHAKE .*depth 0.*X509_V_ERR_INVALID_PURPOSE/);
    assert.match(await server.waitFor(/alert/), /alert number 43|unsupported certificate/);
  } finally {
    await server.kill();
  }
});

test('client-certificate-callback example picks the identity issued by the CA the server names', async () => {
  const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey, '-Verify', '1', '-CAfile', c.caBCert]);
  try {
    const r = await run('client-certificate-callback', ['--port', String(port), '--ca', c.caCert,
      '--identity', `${c.clientCert},${c.clientKey}`, '--identity', `${c.clientBCert},${c.clientBKey}`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 3), [
      'server accepts 1 issuer(s):',
      '  CN = CA-B, O = dicom-tls tests',
      'sending CN=Client of B (issued by CN=CA-B, O=dicom-tls tests)',
    ]);
    assert.match(lines[3] ?? '', /^connected: TLSv1\.3 /);
    // s_server verified the certificate the callback chose.
    assert.match(await server.waitFor(/depth=0 CN = Client of B/), /depth=0 CN = Client of B/);
  } finally {
    await server.kill();
  }
});

test('client-certificate-callback example sends no certificate when none fits, and the server refuses', async () => {
  const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey, '-Verify', '1', '-CAfile', c.caBCert]);
  try {
    const r = await run('client-certificate-callback', ['--port', String(port), '--ca', c.caCert,
      '--identity', `${c.clientCert},${c.clientKey}`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /no identity fits: sending none/);
    // TLS 1.3: the client's handshake completes; the server's refusal (alert 116, certificate
    // required) arrives on the first read.
    assert.match(r.stdout, /connected: TLSv1\.3 /);
    assert.match(r.stdout, /the server closed the connection: DICOM_TLS_ERR_IO .*"certificate required"/);
  } finally {
    await server.kill();
  }
});

test('tls-diagnostics example: the channels report verify calls, the handshake and alerts', async () => {
  const { port, server } = await startSServer(['-cert', c.serverCert, '-key', c.serverKey]);
  try {
    const r = await run('tls-diagnostics', ['--port', String(port), '--ca', c.caCert]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 3), [
      'verify depth=1 ok=1 error=0 (ok) -> 1',
      'verify depth=0 ok=1 error=0 (ok) -> 1',
      `handshake TLSv1.3 ${/TLS_AES_\S+/.exec(r.stdout)?.[0]} resumed=false`,
    ]);
    assert.ok(lines.includes('alert write warning "close notify"'), r.stdout);
  } finally {
    await server.kill();
  }
});

test('tls-diagnostics example: a refused certificate shows the verify call, the alert sent and the failure', async () => {
  const { port, server } = await startSServer(['-cert', c.emailCert, '-key', c.emailKey]);
  try {
    const r = await run('tls-diagnostics', ['--port', String(port), '--ca', c.caCert]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'verify depth=0 ok=0 error=26 (unsuitable certificate purpose) -> 0',
      'alert write fatal "unsupported certificate"',
      'handshake failed: TLS handshake failed: certificate verify failed at depth 0: unsuitable certificate purpose (X509_V_ERR_INVALID_PURPOSE)',
    ]);
  } finally {
    await server.kill();
  }
});
