/**
 * Proves the Orthanc harness (test/helpers/orthanc.ts) with DCMTK tools as the peers, before any
 * of our own DICOM code is pointed at it: mutual DICOM TLS in both directions (Orthanc as SCP for
 * echoscu/storescu/findscu, Orthanc as SCU to storescp via the REST API), refusal of certificates
 * from an unknown CA, and a plain-DICOM instance.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { dcmdump, dump2dcm, dumpText, dumpValue, tempDir } from '../helpers/dicom-data.js';
import { findOrthanc, freePort, makeOrthancPki, startOrthanc } from '../helpers/orthanc.js';
import type { OrthancInstance, OrthancPki } from '../helpers/orthanc.js';
import { startListening } from '../helpers/dcmtk.js';

function hasTool(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const skip = findOrthanc() === undefined
  ? 'Orthanc is not installed (apt-get install orthanc, or set ORTHANC_BIN)'
  : !['echoscu', 'storescu', 'findscu', 'storescp', 'dump2dcm', 'dcmdump'].every(hasTool)
    ? 'DCMTK is not installed'
    : false;

interface Run { code: number; stdout: string; stderr: string }

/** Runs a tool to completion; a non-zero exit is a result, not an exception. */
function runTool(cmd: string, args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function occurrences(orthanc: OrthancInstance, text: string): number {
  return orthanc.log().split(text).length - 1;
}

/**
 * Runs `action`, then waits until `text` shows once more in Orthanc's log than before: Orthanc
 * logs a refused handshake on its own thread, possibly after the peer has exited, and on a loaded
 * machine possibly long after; the bound is only a hang guard.
 */
async function logsDuring(orthanc: OrthancInstance, text: string, action: () => Promise<void>): Promise<boolean> {
  const before = occurrences(orthanc, text);
  await action();
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    if (occurrences(orthanc, text) > before) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** The data set of a Part 10 file: what follows the File Meta Information (PS3.10 7.1). */
function datasetOf(part10: Buffer): Buffer {
  assert.equal(part10.toString('latin1', 128, 132), 'DICM');
  // (0002,0000) UL File Meta Information Group Length, explicit VR LE: value at offset 140.
  assert.equal(part10.readUInt32LE(132), 0x00000002);
  return part10.subarray(144 + part10.readUInt32LE(140));
}

async function startStorescp(pki: OrthancPki, identity: { cert: string; key: string }, out: string):
Promise<{ port: number; child: ChildProcess; stop: () => Promise<void> }> {
  // The shared start: a port no other process is handed, readiness by a bare TCP probe (storescp
  // logs the failed handshake and keeps listening), a start that lost its port retried.
  const d = await startListening('storescp', ['+tls', identity.key, identity.cert, '+cf', pki.ca, '-aet', 'STORESCP', '+B', '-od', out]);
  return { port: d.port, child: d.child, stop: d.stop };
}

const study = '1.2.826.0.1.3680043.10.1410.4.1';
const series = `${study}.1`;
const sop = `${series}.1`;

describe('Orthanc harness with DCMTK peers', { skip }, () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let pki: OrthancPki;
  let tls: OrthancInstance;
  let plain: OrthancInstance;
  let instanceFile: string;

  before(async () => {
    tmp = await tempDir('orthanc-harness');
    mkdirSync(join(tmp.dir, 'pki'));
    pki = makeOrthancPki(join(tmp.dir, 'pki'));
    instanceFile = await dump2dcm(tmp.dir, 'instance.dcm', dumpText({
      PatientName: 'Harness^Test', PatientID: 'HARNESS1', StudyInstanceUID: study, StudyDate: '20260102',
      SeriesInstanceUID: series, Modality: 'OT', SOPInstanceUID: sop, InstanceNumber: '1',
    }));
    // findscu must be a known modality: C-FIND from unknown AE titles is refused by default.
    const findscu = { aet: 'FINDSCU', port: 1 };
    [tls, plain] = await Promise.all([
      startOrthanc({
        aet: 'ORTHANC_TLS',
        tls: { certificate: pki.orthanc.cert, privateKey: pki.orthanc.key, trustedCertificates: pki.ca },
        modalities: { findscu },
      }),
      startOrthanc({ aet: 'ORTHANC', modalities: { findscu } }),
    ]);
  });

  after(async () => {
    await Promise.all([tls?.stop(), plain?.stop()]);
    await tmp?.remove();
  });

  test('starts on its own ports with its own AE title and no plugins', async () => {
    const system = await tls.rest<Record<string, unknown>>('GET', '/system');
    assert.equal(system['DicomPort'], tls.dicomPort);
    assert.equal(system['DicomAet'], 'ORTHANC_TLS');
    assert.equal(system['Version'], '1.10.1');
    // 'explorer.js' is Orthanc Explorer's own entry, listed even when no plugin is loaded.
    assert.deepEqual(await tls.rest('GET', '/plugins'), ['explorer.js']);
    assert.doesNotMatch(tls.log(), /Loading plugin/i);
    assert.equal(tls.config['DicomTlsEnabled'], true);
    assert.equal(plain.config['DicomTlsEnabled'], false);
  });

  test('echoscu +tls with a certificate from the trusted CA is accepted (mutual TLS)', async () => {
    const r = await runTool('echoscu', ['+tls', pki.peer.key, pki.peer.cert, '+cf', pki.ca,
      '-aec', tls.aet, '127.0.0.1', String(tls.dicomPort)]);
    assert.equal(r.code, 0, r.stderr);
  });

  test('a client certificate from an unknown CA is refused', async () => {
    const logged = await logsDuring(tls, 'TLS error: certificate verify failed', async () => {
      const r = await runTool('echoscu', ['+tls', pki.roguePeer.key, pki.roguePeer.cert, '+cf', pki.ca,
        '-aec', tls.aet, '127.0.0.1', String(tls.dicomPort)]);
      assert.notEqual(r.code, 0);
    });
    assert.ok(logged, tls.log());
  });

  test('a TLS client without a certificate is refused (the peer certificate is required)', async () => {
    const logged = await logsDuring(tls, 'peer did not return a certificate', async () => {
      const r = await runTool('echoscu', ['+tla', '+cf', pki.ca, '-aec', tls.aet, '127.0.0.1', String(tls.dicomPort)]);
      assert.notEqual(r.code, 0);
    });
    assert.ok(logged, tls.log());
  });

  test('the TLS port refuses plain DICOM', async () => {
    const r = await runTool('echoscu', ['-aec', tls.aet, '127.0.0.1', String(tls.dicomPort)]);
    assert.notEqual(r.code, 0);
  });

  test('TLS 1.2 and TLS 1.3 are both negotiated with an RSA certificate', async () => {
    for (const version of ['-tls1_2', '-tls1_3']) {
      const r = await new Promise<string>((resolve, reject) => {
        const child = execFile('openssl', ['s_client', version, '-connect', `127.0.0.1:${tls.dicomPort}`,
          '-cert', pki.peer.cert, '-key', pki.peer.key, '-CAfile', pki.ca, '-verify_return_error'],
        { timeout: 10_000 }, (err, stdout) => (err === null ? resolve(stdout) : reject(err)));
        child.stdin?.end();
      });
      assert.match(r, new RegExp(`New, TLSv1\\.${version.slice(-1)}, Cipher is`));
      assert.match(r, /Verify return code: 0 \(ok\)/);
    }
  });

  test('storescu +tls stores an instance; REST finds it and the data set is unchanged', async () => {
    const r = await runTool('storescu', ['+tls', pki.peer.key, pki.peer.cert, '+cf', pki.ca,
      '-aec', tls.aet, '127.0.0.1', String(tls.dicomPort), instanceFile]);
    assert.equal(r.code, 0, r.stderr);
    const found = await tls.find('Instance', { SOPInstanceUID: sop });
    assert.equal(found.length, 1);
    assert.deepEqual(await tls.instances(), found);
    const stored = await tls.file(found[0]!);
    assert.ok(datasetOf(stored).equals(datasetOf(readFileSync(instanceFile))));
  });

  test('findscu +tls finds the stored study', async () => {
    const out = join(tmp.dir, 'find-tls');
    mkdirSync(out);
    const r = await runTool('findscu', ['+tls', pki.peer.key, pki.peer.cert, '+cf', pki.ca, '-aet', 'FINDSCU',
      '-aec', tls.aet, '-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`,
      '-k', 'PatientID', '-k', 'StudyDate', '-X', '-od', out, '127.0.0.1', String(tls.dicomPort)]);
    assert.equal(r.code, 0, r.stderr);
    const files = readdirSync(out).filter((f) => f.startsWith('rsp'));
    assert.equal(files.length, 1);
    const dump = await dcmdump(join(out, files[0]!));
    assert.equal(dumpValue(dump, '0010,0020'), 'HARNESS1');
    assert.equal(dumpValue(dump, '0008,0020'), '20260102');
  });

  test('Orthanc as SCU: echo and C-STORE to storescp +tls through the REST API', async () => {
    const out = join(tmp.dir, 'storescp-tls');
    mkdirSync(out);
    const scp = await startStorescp(pki, pki.peer, out);
    try {
      await tls.putModality('scp', { aet: 'STORESCP', port: scp.port, useDicomTls: true });
      assert.equal(await tls.echo('scp'), true, tls.log());
      const [id] = await tls.find('Instance', { SOPInstanceUID: sop });
      const result = await tls.store('scp', [id!]);
      assert.equal(result['InstancesCount'], 1);
      assert.equal(result['FailedInstancesCount'], 0);
      const files = readdirSync(out);
      assert.equal(files.length, 1);
      const received = readFileSync(join(out, files[0]!));
      assert.ok(datasetOf(received).equals(datasetOf(readFileSync(instanceFile))));
    } finally {
      await scp.stop();
    }
  });

  test('Orthanc as SCU refuses a storescp whose certificate is from an unknown CA', async () => {
    const out = join(tmp.dir, 'storescp-rogue');
    mkdirSync(out);
    const scp = await startStorescp(pki, pki.roguePeer, out);
    try {
      await tls.putModality('rogue', { aet: 'ROGUESCP', port: scp.port, useDicomTls: true });
      const logged = await logsDuring(tls, 'certificate verify failed', async () => {
        assert.equal(await tls.echo('rogue'), false);
      });
      assert.ok(logged, tls.log());
      assert.deepEqual(readdirSync(out), []);
    } finally {
      await scp.stop();
    }
  });

  test('Orthanc as C-FIND and C-MOVE SCU over TLS (querying itself, moving to storescp +tls)', async () => {
    const out = join(tmp.dir, 'storescp-move');
    mkdirSync(out);
    const scp = await startStorescp(pki, pki.peer, out);
    try {
      // Orthanc's own AE as a TLS modality: its SCU and SCP ends both present Orthanc's certificate.
      await tls.putModality('self', { aet: tls.aet, port: tls.dicomPort, useDicomTls: true });
      await tls.putModality('scp', { aet: 'STORESCP', port: scp.port, useDicomTls: true });
      const answers = await tls.query('self', 'Study', { StudyInstanceUID: study, PatientID: '' });
      assert.equal(answers.length, 1);
      assert.equal(answers[0]!['PatientID'], 'HARNESS1');
      await tls.move('self', 'Study', { StudyInstanceUID: study }, 'STORESCP').catch((err: unknown) => {
        throw new Error(`${String(err)}\n${tls.log().split('\n').filter((l) => l.startsWith('E')).join('\n')}`);
      });
      const files = readdirSync(out);
      assert.equal(files.length, 1);
      assert.equal(dumpValue(await dcmdump(join(out, files[0]!)), '0008,0018'), sop);
    } finally {
      await scp.stop();
    }
  });

  test('REST upload stores a Part 10 file; file() gives its data set back unchanged', async () => {
    const other = await dump2dcm(tmp.dir, 'uploaded.dcm', dumpText({
      PatientID: 'HARNESS2', StudyInstanceUID: `${study}.9`, SeriesInstanceUID: `${study}.9.1`,
      SOPInstanceUID: `${study}.9.1.1`, Modality: 'OT',
    }));
    const id = await plain.upload(readFileSync(other));
    assert.equal((await plain.find('Patient', { PatientID: 'HARNESS2' })).length, 1);
    assert.ok(datasetOf(await plain.file(id)).equals(datasetOf(readFileSync(other))));
    assert.ok((await plain.instances()).includes(id));
  });

  test('plain DICOM: echoscu, storescu and findscu against a plain instance', async () => {
    const port = String(plain.dicomPort);
    const echo = await runTool('echoscu', ['-aec', plain.aet, '127.0.0.1', port]);
    assert.equal(echo.code, 0, echo.stderr);
    const store = await runTool('storescu', ['-aec', plain.aet, '127.0.0.1', port, instanceFile]);
    assert.equal(store.code, 0, store.stderr);
    assert.equal((await plain.find('Instance', { SOPInstanceUID: sop })).length, 1);
    const out = join(tmp.dir, 'find-plain');
    mkdirSync(out);
    const find = await runTool('findscu', ['-aet', 'FINDSCU', '-aec', plain.aet, '-S', '-k', 'QueryRetrieveLevel=STUDY',
      '-k', `StudyInstanceUID=${study}`, '-k', 'PatientID', '-X', '-od', out, '127.0.0.1', port]);
    assert.equal(find.code, 0, find.stderr);
    const files = readdirSync(out);
    assert.equal(files.length, 1);
    assert.equal(dumpValue(await dcmdump(join(out, files[0]!)), '0010,0020'), 'HARNESS1');
    // A TLS client cannot talk to the plain port.
    const tlsEcho = await runTool('echoscu', ['+tls', pki.peer.key, pki.peer.cert, '+cf', pki.ca,
      '-aec', plain.aet, '127.0.0.1', port]);
    assert.notEqual(tlsEcho.code, 0);
  });
});

/**
 * How Orthanc 1.10.1 reads "DicomTlsTrustedCertificates" and "DicomTlsRemoteCertificateRequired":
 * the file is an OpenSSL CA file (a listed CA-issued leaf does not make that leaf trusted; a listed
 * self-signed certificate does), and `false` admits peers without a certificate while still
 * verifying any certificate a peer presents.
 */
describe('Orthanc trust file semantics', { skip }, () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let pki: OrthancPki;
  let orthanc: OrthancInstance;

  before(async () => {
    tmp = await tempDir('orthanc-trust');
    pki = makeOrthancPki(tmp.dir, 'ec');
    const trust = join(tmp.dir, 'trusted-leaves.pem');
    writeFileSync(trust, readFileSync(pki.selfSignedPeer.cert, 'utf8') + readFileSync(pki.peer.cert, 'utf8'));
    orthanc = await startOrthanc({
      tls: { certificate: pki.orthanc.cert, privateKey: pki.orthanc.key, trustedCertificates: trust,
        remoteCertificateRequired: false },
    });
  });

  after(async () => {
    await orthanc?.stop();
    await tmp?.remove();
  });

  const echo = (args: readonly string[]): Promise<Run> =>
    runTool('echoscu', [...args, '+cf', pki.ca, '-aec', orthanc.aet, '127.0.0.1', String(orthanc.dicomPort)]);

  test('a self-signed peer certificate listed in the trust file is accepted', async () => {
    const r = await echo(['+tls', pki.selfSignedPeer.key, pki.selfSignedPeer.cert]);
    assert.equal(r.code, 0, r.stderr);
  });

  test('a CA-issued peer certificate listed alone (without its CA) is refused', async () => {
    const logged = await logsDuring(orthanc, 'certificate verify failed', async () => {
      assert.notEqual((await echo(['+tls', pki.peer.key, pki.peer.cert])).code, 0);
    });
    assert.ok(logged, orthanc.log());
  });

  test('without a required certificate, an anonymous TLS client is accepted', async () => {
    const r = await echo(['+tla']);
    assert.equal(r.code, 0, r.stderr);
  });

  test('without a required certificate, a presented certificate from an unknown CA is still refused', async () => {
    assert.notEqual((await echo(['+tls', pki.roguePeer.key, pki.roguePeer.cert])).code, 0);
  });

  test('with an ECDSA certificate only TLS 1.3 is negotiated (the BCP 195 TLS 1.2 suites are RSA)', async () => {
    const handshake = (version: string): Promise<string> => new Promise((resolve) => {
      const child = execFile('openssl', ['s_client', version, '-connect', `127.0.0.1:${orthanc.dicomPort}`,
        '-cert', pki.selfSignedPeer.cert, '-key', pki.selfSignedPeer.key, '-CAfile', pki.ca],
      { timeout: 10_000 }, (_err, stdout) => resolve(stdout));
      child.stdin?.end();
    });
    assert.match(await handshake('-tls1_3'), /New, TLSv1\.3, Cipher is/);
    assert.match(await handshake('-tls1_2'), /New, \(NONE\), Cipher is \(NONE\)/);
  });
});
