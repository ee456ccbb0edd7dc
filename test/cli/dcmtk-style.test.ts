/**
 * DCMTK command lines through our binary: the same argument list that echoscu/findscu take runs
 * unchanged against a real peer (our `serve`, DCMTK's wlmscpfs); `-d` dumps the protocol from the
 * diagnostics channels; a rejected called AE title is answered with the fix on the client and the
 * accepted titles in the server's log.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, runCli, oneSentenceError, tempDir } from '../helpers/cli.js';
import { hasDcmtk, startListening, type Daemon } from '../helpers/dcmtk.js';
import { dump2dcm } from '../helpers/dicom-data.js';
import { fromDcmtk, joinPeer } from '../../src/cli/dcmtk-args.js';
import { identifier, parseQueryKeys } from '../../src/cli/query-keys.js';

const tmp = tempDir('cli-dcmtk-');
let server: ChildProcessWithoutNullStreams;
let log = '';
let port = 0;
const pki = (f: string): string => join(tmp.dir, 'dicom-tls-data', 'pki', f);
/** DCMTK's TLS arguments, exactly as echoscu takes them. */
const dcmtkTls = (): string[] => ['+tls', pki('client-key.pem'), pki('client.pem'), '+cf', pki('ca.pem')];

function waitFor(re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => { server.stdout.off('data', check); reject(new Error(`no line ${re} in the serve log:\n${log}`)); }, 30_000);
    const check = (): void => {
      const m = re.exec(log);
      if (m !== null) { clearTimeout(guard); server.stdout.off('data', check); resolve(m); }
    };
    server.stdout.on('data', check);
    check();
  });
}

before(async () => {
  server = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0'], { cwd: tmp.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  server.stdout.setEncoding('utf8').on('data', (d: string) => { log += d; });
  server.stderr.setEncoding('utf8').on('data', (d: string) => { log += d; });
  port = Number((await waitFor(/listening for DICOM over TLS on 127\.0\.0\.1:(\d+)/))[1]);
});

after(async () => {
  if (server.exitCode === null) { server.kill('SIGKILL'); await new Promise((r) => server.once('exit', r)); }
  tmp.cleanup();
});

test('fromDcmtk rewrites DCMTK spellings into ours and leaves ours alone', () => {
  assert.deepEqual(fromDcmtk(['-aet', 'ME', '-aec', 'PACS', '-aem', 'DEST', '-P', '-S', '-W', '-q', '-d', '-v']),
    ['--aet', 'ME', '--call', 'PACS', '--dest', 'DEST', '--root', 'patient', '--root', 'study', '--root', 'worklist', '--quiet', '--debug', '-v']);
  assert.deepEqual(fromDcmtk(['+tls', 'k.pem', 'c.pem', '+cf', 'ca.pem', '+cd', 'cas', '-ic', '+px', '-to', '5', '+crl', 'x.crl', '+cra']),
    ['--key', 'k.pem', '--cert', 'c.pem', '--ca', 'ca.pem', '--ca', 'cas', '--peer-cert', 'ignore', '--profile', 'bcp195', '--timeout', '5', '--crl', 'x.crl', '--crl-check', 'all']);
  assert.deepEqual(fromDcmtk(['--aetitle', 'ME', '--enable-tls', 'k', 'c', '--add-cert-file', 'ca', '--disable-tls', '-ll', 'debug']),
    ['--aet', 'ME', '--key', 'k', '--cert', 'c', '--ca', 'ca', '--no-tls', '--debug']);
  assert.deepEqual(fromDcmtk(['--aet', 'X', '-k', 'PatientName=A', 'host:1', '--', '-aet']), ['--aet', 'X', '-k', 'PatientName=A', 'host:1', '--', '-aet']);
  // findscu's --key is a query key when it reads as one; our --key FILE otherwise.
  assert.deepEqual(fromDcmtk(['--key', 'PatientName=DOE', '--key', '(0010,0020)', '--key', 'StudyDate', '--key', 'client-key.pem'], 'find'),
    ['--query', 'PatientName=DOE', '--query', '(0010,0020)', '--query', 'StudyDate', '--key', 'client-key.pem']);
  assert.deepEqual(fromDcmtk(['--key', 'PatientName=DOE'], 'echo'), ['--key', 'PatientName=DOE']);
  assert.throws(() => fromDcmtk(['+pw', 'secret']), /password on the command line.*--password-file/);
  assert.throws(() => fromDcmtk(['+tls', 'only-key']), /\+tls needs 2 values/);
});

test('joinPeer: DCMTK\'s `host port` is one peer; host:port and files stay as they are', () => {
  assert.deepEqual(joinPeer(['pacs', '104', 'a.dcm']), ['pacs:104', 'a.dcm']);
  assert.deepEqual(joinPeer(['::1', '11112']), ['[::1]:11112']);
  assert.deepEqual(joinPeer(['pacs:104', 'a.dcm']), ['pacs:104', 'a.dcm']);
  assert.deepEqual(joinPeer(['pacs:104', '12']), ['pacs:104', '12']);
  assert.deepEqual(joinPeer(['pacs']), ['pacs']);
});

test('-k takes (gggg,eeee), keywords and findscu sequence paths', async () => {
  const keys = await parseQueryKeys(['(0010,0010)=DOE*', '0020,000D', 'ReferencedStudySequence[0].ReferencedSOPInstanceUID=1.2.3',
    'ScheduledProcedureStepSequence[0].Modality=CT', '(0040,0100)[0].(0040,0001)', 'OtherPatientIDsSequence[1]']);
  assert.deepEqual(identifier(keys, 'STUDY'), {
    PatientName: 'DOE*', StudyInstanceUID: '', ReferencedStudySequence: [{ ReferencedSOPInstanceUID: '1.2.3' }],
    ScheduledProcedureStepSequence: [{ Modality: 'CT', ScheduledStationAETitle: '' }], OtherPatientIDsSequence: [{}, {}],
    QueryRetrieveLevel: 'STUDY',
  });
  await assert.rejects(parseQueryKeys(['ReferencedStudySequence.ReferencedSOPInstanceUID=1']), /item number/);
  await assert.rejects(parseQueryKeys(['NoSuchKeyword[0].PatientID']), /no such DICOM keyword/);
});

test('the echoscu command line runs unchanged through dicom-tls (and through echoscu itself)', async () => {
  const args = [...dcmtkTls(), '-aet', 'DCMTKSTYLE', '-aec', 'DICOM-TLS', '127.0.0.1', String(port)];
  if (hasDcmtk('echoscu')) execFileSync('echoscu', args, { stdio: 'pipe' });
  const r = await runCli(['echo', ...args]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^C-ECHO DCMTKSTYLE → DICOM-TLS@127\.0\.0\.1:\d+: Success over TLSv1\.3/);
  const q = await runCli(['echo', ...args, '-q']);
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stderr, '');
});

test('-d dumps TLS trace, verify calls, every PDU with its items and each DIMSE command set element by element', async () => {
  const r = await runCli(['echo', ...dcmtkTls(), '-aec', 'DICOM-TLS', '127.0.0.1', String(port), '-d']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n');
  const at = (re: RegExp): number => { const i = lines.findIndex((l) => re.test(l)); assert.ok(i >= 0, `no ${re} in:\n${r.stderr}`); return i; };
  // In protocol order: TLS (verify of CA then server), association, DIMSE request and response, release.
  const order = [
    at(/^D: SSL_connect:SSLv3\/TLS write client hello$/),
    at(/^D: TLS verify depth=1 ok=1 error=0 \(ok\) -> 1$/),
    at(/^D: TLS verify depth=0 ok=1 error=0 \(ok\) -> 1$/),
    at(/^D: TLS connection established: TLSv1\.3 /),
    at(/^D: sent A-ASSOCIATE-RQ: DICOM-TLS → DICOM-TLS/),
    at(/^D: {3}Presentation Context 1: 1\.2\.840\.10008\.1\.1 \(Verification\)$/),
    at(/^D: received A-ASSOCIATE-AC/),
    at(/^D: C-ECHO-RQ on presentation context 1$/),
    at(/^D: {3}\(0000,0100\) US 48 \(0x0030\) {2}# CommandField$/),
    at(/^D: sent P-DATA-TF: 1 PDV$/),
    at(/^D: C-ECHO-RSP on presentation context 1$/),
    at(/^D: {3}\(0000,0900\) US 0 \(0x0000\) {2}# Status$/),
    at(/^D: sent A-RELEASE-RQ$/),
    at(/^D: received A-RELEASE-RP$/),
  ];
  assert.deepEqual(order, [...order].sort((a, b) => a - b), r.stderr);
  assert.doesNotMatch(r.stderr, /SSL client CA : /, 'the purposes table is not part of the dump');
});

test('a rejected called AE title: the client names the fix, the server log the titles it accepts', async () => {
  const r = await runCli(['echo', ...dcmtkTls(), '-aec', 'NOTOURS', '127.0.0.1', String(port)]);
  assert.equal(r.code, 13, r.stderr);
  const { sentence, code } = oneSentenceError(r);
  assert.equal(code, 'DICOM_ERR_ASSOCIATION_REJECTED');
  assert.match(sentence, /called AE title 'NOTOURS'.*--call AE.*DICOM-TLS/);
  await waitFor(/called AE title 'NOTOURS' is not one of ours \('DICOM-TLS'\)/);
});

test('findscu -W with a sequence key runs unchanged through dicom-tls against wlmscpfs', { skip: hasDcmtk('wlmscpfs') ? false : 'wlmscpfs missing' }, async () => {
  const dir = join(tmp.dir, 'wl');
  await mkdir(join(dir, 'WLM'), { recursive: true });
  await writeFile(join(dir, 'WLM', 'lockfile'), '');
  const item = (acc: string, modality: string): string => ['(0008,0005) CS [ISO_IR 100]', `(0008,0050) SH [${acc}]`, '(0010,0010) PN [DOE^JOHN]',
    '(0010,0020) LO [P1]', '(0040,0100) SQ (Sequence with undefined length)', '(fffe,e000) na (Item with undefined length)',
    `(0008,0060) CS [${modality}]`, '(0040,0001) AE [ST1]', '(fffe,e00d) na (ItemDelimitationItem)', '(fffe,e0dd) na (SequenceDelimitationItem)'].join('\n');
  await dump2dcm(join(dir, 'WLM'), 'a.wl', item('ACC-CT', 'CT'));
  await dump2dcm(join(dir, 'WLM'), 'b.wl', item('ACC-MR', 'MR'));
  const scp: Daemon = await startListening('wlmscpfs', ['-dfr', '-dfp', dir]);
  try {
    const args = ['-W', '-aec', 'WLM', '-k', '(0008,0050)', '-k', 'ScheduledProcedureStepSequence[0].Modality=CT', '-k', 'ScheduledProcedureStepSequence[0].ScheduledStationAETitle', '127.0.0.1', String(scp.port)];
    execFileSync('findscu', args, { stdio: 'pipe' });
    const r = await runCli(['find', ...args, '-tls', '--json']);
    assert.equal(r.code, 0, r.stderr + scp.output());
    // --json is the DICOM JSON Model (PS3.18 F.2): AccessionNumber (0008,0050), the step sequence (0040,0100).
    type Attr = { vr: string; Value?: unknown[] };
    const matches = JSON.parse(r.stdout) as Array<Record<string, Attr>>;
    assert.deepEqual(matches.map((m) => [m['00080050']?.Value?.[0], ((m['00400100']?.Value?.[0] as Record<string, Attr>)['00080060']?.Value?.[0])]), [['ACC-CT', 'CT']]);
  } finally {
    await scp.stop();
  }
});

test("serve's log shows its certificate, the trusted CA and each client's certificate with the SHA-256 fingerprint the bindings use", async () => {
  const fp = (f: string): string => execFileSync('openssl', ['x509', '-in', f, '-noout', '-fingerprint', '-sha256']).toString().trim().replace(/^.*=/, '');
  const esc = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  await waitFor(new RegExp(`certificate CN=localhost, O=dicom-tls development PKI: SAN DNS:localhost.*; SHA-256 ${esc(fp(pki('server.pem')))}; EC P-256; expires in \\d+ days`));
  await waitFor(new RegExp(`trusted CA CN=dicom-tls CA [^:]*: SHA-256 ${esc(fp(pki('ca.pem')))}; EC P-256; expires in \\d+ days`));
  const r = await runCli(['echo', ...dcmtkTls(), '-aet', 'FPCHECK', '-aec', 'DICOM-TLS', '127.0.0.1', String(port)]);
  assert.equal(r.code, 0, r.stderr);
  await waitFor(new RegExp(`association FPCHECK → DICOM-TLS .*certificate CN=dicom-tls client, O=dicom-tls development PKI \\(SHA-256 ${esc(fp(pki('client.pem')))}\\)`));
});
