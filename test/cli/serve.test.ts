/**
 * The README's main job, as a user runs it: `dicom-tls serve` on a fresh data directory, then a
 * second process's `dicom-tls echo` and DCMTK's echoscu/storescu with the generated PKI; then the
 * failures a user meets (each one sentence, each its own exit code) and a clean stop on SIGTERM.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, runCli, oneSentenceError, tempDir } from '../helpers/cli.js';

const tmp = tempDir('cli-serve-');
let server: ChildProcessWithoutNullStreams;
let stdout = '';
let tlsPort = 0;
let plainPort = 0;
const pki = (f: string): string => join(tmp.dir, 'dicom-tls-data', 'pki', f);
const trusted = (): string[] => ['--call', 'DICOM-TLS', '--ca', pki('ca.pem'), '--cert', pki('client.pem'), '--key', pki('client-key.pem')];

function waitFor(re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    // A hang guard, not a timed assertion: a line that never comes fails with the log so far.
    const guard = setTimeout(() => { server.stdout.off('data', check); reject(new Error(`no line ${re} in the serve log:\n${stdout}`)); }, 30_000);
    const check = (): void => {
      const m = re.exec(stdout);
      if (m !== null) { clearTimeout(guard); server.stdout.off('data', check); resolve(m); }
    };
    server.stdout.on('data', check);
    server.once('exit', (code) => reject(new Error(`serve exited (${code}) before ${re}:\n${stdout}`)));
    check();
  });
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]);
}

before(async () => {
  server = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--log-level', 'debug'], { cwd: tmp.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  server.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  server.stderr.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  const m = await waitFor(/listening for DICOM over TLS on 127\.0\.0\.1:(\d+) as AE DICOM-TLS, plain DICOM on 127\.0\.0\.1:(\d+)/);
  tlsPort = Number(m[1]);
  plainPort = Number(m[2]);
});

after(async () => {
  if (server.exitCode === null) { server.kill('SIGKILL'); await new Promise((r) => server.once('exit', r)); }
  tmp.cleanup();
});

test('first run creates a development PKI, says where the CA is and how to connect', async () => {
  assert.match(stdout, new RegExp(`created a development PKI in .*CA: ${pki('ca.pem').replace(/[.]/g, '\\.')}`));
  for (const f of ['ca.pem', 'server.pem', 'server-key.pem', 'client.pem', 'client-key.pem']) assert.ok(existsSync(pki(f)), f);
  await waitFor(/Stop with Ctrl-C/);
  assert.match(stdout, new RegExp(`dicom-tls echo localhost:${tlsPort} --call DICOM-TLS --ca dicom-tls-data/pki/ca\\.pem --cert dicom-tls-data/pki/client\\.pem --key dicom-tls-data/pki/client-key\\.pem`));
  assert.match(stdout, new RegExp(`echoscu \\+tls dicom-tls-data/pki/client-key\\.pem dicom-tls-data/pki/client\\.pem \\+cf dicom-tls-data/pki/ca\\.pem -aec DICOM-TLS localhost ${tlsPort}`));
});

test('dicom-tls echo with the printed line succeeds over TLS', async () => {
  const line = /^ {2}dicom-tls (echo .*)$/m.exec(stdout)![1]!.split(' ');
  const r = await runCli(line, { cwd: tmp.dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /C-ECHO DICOM-TLS → DICOM-TLS@localhost:\d+: Success over TLSv1\.3/);
  const j = await runCli(['echo', `127.0.0.1:${tlsPort}`, ...trusted(), '--json']);
  const doc = JSON.parse(j.stdout) as { tls: { protocol: string }; echo: { status: number }[] };
  assert.equal(doc.echo[0]!.status, 0);
  assert.match(doc.tls.protocol, /^TLSv1\.[23]$/);
  // Our client and server: the hybrid post-quantum group, named in the log.
  await waitFor(/association DICOM-TLS → DICOM-TLS from 127\.0\.0\.1:\d+ over TLSv1\.3 \(key exchange X25519MLKEM768\), certificate CN=dicom-tls client/);
});

test('a client resumes its TLS session by default; --session-lifetime 0 verifies its certificate at every association', async () => {
  const { DicomClient } = await import('../../src/ae/client.js');
  const { SecureContext } = await import('../../src/transport/tls/context.js');
  const ctx = new SecureContext({ role: 'client', ca: [pki('ca.pem')], identity: { cert: pki('client.pem'), key: pki('client-key.pem') } });
  const resumed = async (port: number): Promise<boolean[]> => {
    const out: boolean[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'RESUMER', calledAeTitle: 'DICOM-TLS', tls: ctx });
      out.push(c.tls?.resumed === true);
      await c.release();
    }
    return out;
  };
  const strict = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--data', join(tmp.dir, 'strict-data'),
    '--cert', pki('server.pem'), '--key', pki('server-key.pem'), '--ca', pki('ca.pem'), '--session-lifetime', '0'], { cwd: tmp.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    assert.deepEqual(await resumed(tlsPort), [false, true]);
    let log = '';
    const port = await new Promise<number>((resolve, reject) => {
      strict.stdout.setEncoding('utf8').on('data', (d: string) => {
        log += d;
        const m = /listening for DICOM over TLS on 127\.0\.0\.1:(\d+)/.exec(log);
        if (m !== null) resolve(Number(m[1]));
      });
      strict.once('exit', (code) => reject(new Error(`serve exited (${code}):\n${log}`)));
    });
    assert.deepEqual(await resumed(port), [false, false]);
  } finally {
    strict.kill('SIGKILL');
    ctx.dispose();
  }
});

test('DCMTK echoscu (the printed line) and storescu over TLS; the instance lands in the data directory', async () => {
  const line = /^ {2}(echoscu \+tls .*)$/m.exec(stdout)![1]!.split(' ');
  execFileSync(line[0]!, line.slice(1), { cwd: tmp.dir, stdio: 'pipe' });
  // DCMTK on the system's OpenSSL 3.0 has no hybrid group: a classical one, named in the log.
  await waitFor(/association ECHOSCU → DICOM-TLS from 127\.0\.0\.1:\d+ over TLSv1\.3 \(key exchange (x25519|secp256r1|secp384r1)\)/i);
  writeFileSync(join(tmp.dir, 'ct.dump'), [
    '(0008,0016) UI =CTImageStorage', '(0008,0018) UI [1.2.826.0.1.3680043.2.1125.9.1]', '(0008,0060) CS [CT]',
    '(0010,0010) PN [DOE^JOHN]', '(0010,0020) LO [CLI-12345]', '(0020,000d) UI [1.2.826.0.1.3680043.2.1125.9]',
    '(0020,000e) UI [1.2.826.0.1.3680043.2.1125.9.2]', ''].join('\n'));
  execFileSync('dump2dcm', ['+te', 'ct.dump', 'ct.dcm'], { cwd: tmp.dir, stdio: 'pipe' });
  execFileSync('storescu', ['+tls', pki('client-key.pem'), pki('client.pem'), '+cf', pki('ca.pem'), '-aec', 'DICOM-TLS', '127.0.0.1', String(tlsPort), 'ct.dcm'], { cwd: tmp.dir, stdio: 'pipe' });
  await waitFor(/stored 1\.2\.826\.0\.1\.3680043\.2\.1125\.9\.1 from STORESCU \(\d+ bytes\)/);
  const stored = walk(join(tmp.dir, 'dicom-tls-data', 'files')).filter((f) => f.endsWith('.dcm'));
  assert.equal(stored.length, 1);
  assert.match(execFileSync('dcmdump', [stored[0]!]).toString(), /CLI-12345/);
  // Plain DICOM only where asked: the plain port answers echoscu without TLS.
  execFileSync('echoscu', ['-aec', 'DICOM-TLS', '127.0.0.1', String(plainPort)], { stdio: 'pipe' });
});

test('DCMTK storescu re-sends a half-sent study: every instance Success, each stored once, the re-sent one logged as kept', async () => {
  const files = [1, 2, 3].map((n) => {
    writeFileSync(join(tmp.dir, `study${n}.dump`), [
      '(0008,0016) UI =CTImageStorage', `(0008,0018) UI [1.2.826.0.1.3680043.2.1125.8.1.${n}]`, '(0008,0060) CS [CT]',
      '(0010,0010) PN [RETRY^STUDY]', '(0010,0020) LO [RETRY-1]', '(0020,000d) UI [1.2.826.0.1.3680043.2.1125.8]',
      '(0020,000e) UI [1.2.826.0.1.3680043.2.1125.8.1]', ''].join('\n'));
    execFileSync('dump2dcm', ['+te', `study${n}.dump`, `study${n}.dcm`], { cwd: tmp.dir, stdio: 'pipe' });
    return `study${n}.dcm`;
  });
  const inStudy = (): string[] => walk(join(tmp.dir, 'dicom-tls-data', 'files', '1.2.826.0.1.3680043.2.1125.8')).filter((f) => f.endsWith('.dcm'));
  // The modality sent the first instance, then lost the association; its retry sends the whole study.
  execFileSync('storescu', ['-aec', 'DICOM-TLS', '127.0.0.1', String(plainPort), files[0]!], { cwd: tmp.dir, stdio: 'pipe' });
  await waitFor(/stored 1\.2\.826\.0\.1\.3680043\.2\.1125\.8\.1\.1 from STORESCU/);
  const before = readFileSync(inStudy()[0]!);
  // storescu exits non-zero when an instance is refused: the retry must succeed as a whole.
  execFileSync('storescu', ['-aec', 'DICOM-TLS', '127.0.0.1', String(plainPort), ...files], { cwd: tmp.dir, stdio: 'pipe' });
  await waitFor(/1\.2\.826\.0\.1\.3680043\.2\.1125\.8\.1\.1 from STORESCU is already stored: kept the first copy \(duplicates: keep-first\), answered Success/);
  await waitFor(/stored 1\.2\.826\.0\.1\.3680043\.2\.1125\.8\.1\.3 from STORESCU/);
  assert.equal(inStudy().length, 3);
  assert.ok(readFileSync(inStudy().find((f) => f.endsWith('.1.dcm'))!).equals(before), 'the first copy is kept as it was');
});

test('DCMTK storescu: a Color Palette is refused at negotiation and the log says so; a CT without Study Instance UID fails A900, nothing stored', async () => {
  writeFileSync(join(tmp.dir, 'palette.dump'), ['(0008,0016) UI =ColorPaletteStorage', '(0008,0018) UI [1.2.826.0.1.3680043.2.1125.7.1]',
    '(0028,1101) US 256\\0\\8', '(0028,1102) US 256\\0\\8', '(0028,1103) US 256\\0\\8', '(0028,1201) OW 0000', '(0028,1202) OW 0000', '(0028,1203) OW 0000', ''].join('\n'));
  execFileSync('dump2dcm', ['+te', 'palette.dump', 'palette.dcm'], { cwd: tmp.dir, stdio: 'pipe' });
  const palette = spawnSync('storescu', ['-R', '-aec', 'DICOM-TLS', '-aet', 'PALETTESCU', '127.0.0.1', String(plainPort), 'palette.dcm'], { cwd: tmp.dir, encoding: 'utf8' });
  assert.notEqual(palette.status, 0);
  assert.match(palette.stderr + palette.stdout, /No Acceptable Presentation Contexts/);
  await waitFor(/association PALETTESCU → DICOM-TLS from [^\n]*; refused 1\.2\.840\.10008\.5\.1\.4\.39\.1 \(abstract-syntax-not-supported/);
  // dicom-tls store says the same: the class was refused, and why.
  const ours = await runCli(['store', `127.0.0.1:${plainPort}`, '--no-tls', '--call', 'DICOM-TLS', 'palette.dcm'], { cwd: tmp.dir });
  assert.notEqual(ours.code, 0);
  assert.match(ours.stdout + ours.stderr, /no accepted presentation context can carry 1\.2\.840\.10008\.5\.1\.4\.39\.1 in [\d.]+ \(the peer answered abstract-syntax-not-supported/);
  writeFileSync(join(tmp.dir, 'nostudy.dump'), ['(0008,0016) UI =CTImageStorage', '(0008,0018) UI [1.2.826.0.1.3680043.2.1125.7.2]', '(0008,0060) CS [CT]',
    '(0010,0020) LO [NO-STUDY]', '(0020,000e) UI [1.2.826.0.1.3680043.2.1125.7.3]', ''].join('\n'));
  execFileSync('dump2dcm', ['+te', 'nostudy.dump', 'nostudy.dcm'], { cwd: tmp.dir, stdio: 'pipe' });
  const noStudy = spawnSync('storescu', ['-v', '-aec', 'DICOM-TLS', '-aet', 'NOSTUDYSCU', '127.0.0.1', String(plainPort), 'nostudy.dcm'], { cwd: tmp.dir, encoding: 'utf8' });
  assert.match(noStudy.stderr + noStudy.stdout, /Received Store Response \(Error: DataSetDoesNotMatchSOPClass\)/);
  await waitFor(/an instance from NOSTUDYSCU could not be stored: the data set has no StudyInstanceUID \(0020,000D\)/);
  const all = walk(join(tmp.dir, 'dicom-tls-data', 'files'));
  assert.ok(!all.some((f) => f.includes('1.2.826.0.1.3680043.2.1125.7.')), all.join('\n'));
});

test('dicom-tls store (second terminal, generated PKI) stores into the data directory', async () => {
  const r = await runCli(['store', `localhost:${tlsPort}`, 'ct.dcm', ...trusted()], { cwd: tmp.dir });
  // ct.dcm was stored by storescu above: by default a re-sent instance is Success, stored once, and the log says so.
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /sent 1, warnings 0, failed 0/);
  await waitFor(/ from DICOM-TLS is already stored: kept the first copy \(duplicates: keep-first\)/);
  writeFileSync(join(tmp.dir, 'ct2.dump'), ['(0008,0016) UI =CTImageStorage', '(0008,0018) UI [1.2.826.0.1.3680043.2.1125.9.5]',
    '(0010,0020) LO [CLI-STORE]', '(0020,000d) UI [1.2.826.0.1.3680043.2.1125.9]', '(0020,000e) UI [1.2.826.0.1.3680043.2.1125.9.2]', ''].join('\n'));
  execFileSync('dump2dcm', ['+te', 'ct2.dump', 'ct2.dcm'], { cwd: tmp.dir, stdio: 'pipe' });
  const ok = await runCli(['store', `localhost:${tlsPort}`, 'ct2.dcm', ...trusted()], { cwd: tmp.dir });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /sent 1, warnings 0, failed 0, skipped 0 \(of 1\)/);
  await waitFor(/stored 1\.2\.826\.0\.1\.3680043\.2\.1125\.9\.5 from DICOM-TLS/);
});

test('no client certificate: one sentence, exit 11, and the server logs the failed handshake', async () => {
  const r = await runCli(['echo', `127.0.0.1:${tlsPort}`, '--call', 'DICOM-TLS', '--ca', pki('ca.pem')]);
  assert.equal(r.code, 11);
  assert.equal(oneSentenceError(r).code, 'DICOM_TLS_ERR_HANDSHAKE');
  await waitFor(/TLS handshake from 127\.0\.0\.1:\d+ failed: .*peer did not return a certificate/);
});

test('a client certificate from another CA is rejected by the server (exit 11, the server names the certificate)', async () => {
  const other = join(tmp.dir, 'other');
  assert.equal((await runCli(['pki', 'init', other])).code, 0);
  const r = await runCli(['echo', `127.0.0.1:${tlsPort}`, '--call', 'DICOM-TLS', '--ca', pki('ca.pem'), '--cert', join(other, 'client.pem'), '--key', join(other, 'client-key.pem')]);
  assert.equal(r.code, 11);
  oneSentenceError(r);
  await waitFor(/failed, certificate at depth 0: CN = dicom-tls client, O = dicom-tls development PKI: unable to get local issuer certificate \(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY\)/);
  // The other way round: we do not trust the server's CA (exit 10: we rejected its certificate).
  const ours = await runCli(['echo', `127.0.0.1:${tlsPort}`, '--call', 'DICOM-TLS', '--ca', join(other, 'ca.pem'), '--cert', pki('client.pem'), '--key', pki('client-key.pem')]);
  assert.equal(ours.code, 10);
  assert.match(oneSentenceError(ours).sentence, /certificate verify failed at depth \d/);
});

test('TLS/plain mismatch in both directions: exit 12', async () => {
  const plainToTls = await runCli(['echo', `127.0.0.1:${tlsPort}`, '--no-tls', '--call', 'DICOM-TLS']);
  assert.equal(plainToTls.code, 12);
  assert.equal(oneSentenceError(plainToTls).code, 'DICOM_ERR_UL_TLS_ON_PLAIN_PORT');
  const tlsToPlain = await runCli(['echo', `127.0.0.1:${plainPort}`, ...trusted()]);
  assert.equal(tlsToPlain.code, 12);
  assert.match(oneSentenceError(tlsToPlain).sentence, /speaks plain DICOM.*--no-tls|with plain DICOM: this is a plain \(non-TLS\) port/);
});

test('wrong called AE title: association rejected, exit 13', async () => {
  const r = await runCli(['echo', `127.0.0.1:${tlsPort}`, ...trusted(), '--call', 'NOT-HERE']);
  assert.equal(r.code, 13);
  assert.match(oneSentenceError(r).sentence, /called-AE-title-not-recognized/);
});

test('encrypted client key: right password works, wrong password is exit 4', async () => {
  const pw = join(tmp.dir, 'pw.txt');
  writeFileSync(pw, 'correct horse\n');
  const issued = await runCli(['pki', 'issue', 'modality', '--dir', join(tmp.dir, 'dicom-tls-data', 'pki'), '--client-only', '--encrypt', '--password-file', pw]);
  assert.equal(issued.code, 0, issued.stderr);
  const args = ['echo', `127.0.0.1:${tlsPort}`, '--call', 'DICOM-TLS', '--ca', pki('ca.pem'), '--cert', pki('modality.pem'), '--key', pki('modality-key.pem')];
  assert.equal((await runCli([...args, '--password-file', pw])).code, 0);
  const wrong = await runCli([...args, '--password-env', 'PW'], { env: { PW: 'battery staple' } });
  assert.equal(wrong.code, 4);
  assert.match(oneSentenceError(wrong).sentence, /wrong password/);
  const missing = await runCli(args);
  assert.equal(missing.code, 4);
  assert.match(oneSentenceError(missing).sentence, /--password-file/);
});

test('refused port and unknown host: exit 7 and 6', async () => {
  const refused = await runCli(['echo', '127.0.0.1:1', ...trusted()]);
  assert.equal(refused.code, 7);
  oneSentenceError(refused);
  const unknown = await runCli(['echo', 'no-such-host.invalid:2762', ...trusted()]);
  assert.equal(unknown.code, 6);
  oneSentenceError(unknown);
});

test('diagnose against serve: no problem found, C-ECHO Success', async () => {
  const r = await runCli(['diagnose', `127.0.0.1:${tlsPort}`, ...trusted(), '--json']);
  assert.equal(r.code, 0, r.stdout);
  const doc = JSON.parse(r.stdout) as { tls: { handshake: string; verify: { ok: boolean }[] }; association: { result: string }; echo: { status: string }; verdict: string };
  assert.equal(doc.tls.handshake, 'ok');
  assert.ok(doc.tls.verify.every((v) => v.ok));
  assert.equal(doc.association.result, 'accepted');
  assert.equal(doc.echo.status, 'Success');
  assert.match(doc.verdict, /^No problem found/);
  const plain = await runCli(['diagnose', `127.0.0.1:${plainPort}`, ...trusted(), '--json']);
  assert.equal(plain.code, 12);
  assert.match((JSON.parse(plain.stdout) as { verdict: string }).verdict, /DICOM without TLS/);
});

test('SIGTERM during a 64 MB C-STORE: the instance in flight lands, then serve stops cleanly (exit 0)', async () => {
  // A large instance: the small CT plus Pixel Data (7FE0,0010) OB appended (the last tag; explicit VR LE).
  const big = join(tmp.dir, 'big.dcm');
  writeFileSync(join(tmp.dir, 'big.dump'), ['(0008,0016) UI =CTImageStorage', '(0008,0018) UI [1.2.826.0.1.3680043.2.1125.9.99]',
    '(0010,0020) LO [BIG]', '(0020,000d) UI [1.2.826.0.1.3680043.2.1125.9]', '(0020,000e) UI [1.2.826.0.1.3680043.2.1125.9.3]', ''].join('\n'));
  execFileSync('dump2dcm', ['+te', 'big.dump', 'big.dcm'], { cwd: tmp.dir, stdio: 'pipe' });
  const size = 64 * 1024 * 1024;
  const head = Buffer.alloc(12);
  head.writeUInt16LE(0x7fe0, 0); head.writeUInt16LE(0x0010, 2); head.write('OB', 4, 'latin1'); head.writeUInt32LE(size, 8);
  appendFileSync(big, Buffer.concat([head, Buffer.alloc(size, 0x5a)]));
  const scu = spawn('storescu', ['+tls', pki('client-key.pem'), pki('client.pem'), '+cf', pki('ca.pem'), '-aec', 'DICOM-TLS', '-aet', 'BIGSCU', '127.0.0.1', String(tlsPort), big], { stdio: 'ignore' });
  const scuExit = new Promise<number | null>((r) => scu.once('exit', (c) => r(c)));
  await waitFor(/association BIGSCU → DICOM-TLS/);
  const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
  server.kill('SIGTERM');
  assert.equal(await scuExit, 0, 'storescu got Success');
  assert.equal(await exited, 0);
  const stored = walk(join(tmp.dir, 'dicom-tls-data', 'files')).find((f) => f.endsWith('1.2.826.0.1.3680043.2.1125.9.99.dcm'));
  assert.ok(stored !== undefined, stdout);
  assert.ok(statSync(stored).size > size);
  assert.ok(stdout.indexOf('stored 1.2.826.0.1.3680043.2.1125.9.99') < stdout.indexOf('stopped cleanly'));
});

test('a second run reuses the PKI and stops on SIGINT', async () => {
  assert.match(stdout, /SIGTERM: stopping/);
  assert.match(stdout, /stopped cleanly/);
  const again = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0'], { cwd: tmp.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  again.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  await new Promise<void>((resolve) => again.stdout.on('data', () => { if (/Stop with Ctrl-C/.test(out)) resolve(); }));
  const code = new Promise<number | null>((r) => again.once('exit', (c) => r(c)));
  again.kill('SIGINT');
  assert.equal(await code, 0);
  assert.doesNotMatch(out, /created a development PKI/);
});
