/**
 * `serve` access control and user identity, as a user runs them: the default rules (plain port:
 * echo and store only; a verified client certificate: everything), `access` rules in the config,
 * and `--users FILE --require-user` with a file made by `dicom-tls user add`. Peers: DCMTK
 * (echoscu, storescu with --user/--password, findscu) and our client.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, runCli, oneSentenceError, tempDir } from '../helpers/cli.js';
import { run } from '../helpers/dcmtk.js';
import { DicomClient } from '../../src/ae/client.js';
import { AssociationRejectedError } from '../../src/acse/errors.js';
import { QueryRetrieveSopClass, TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';

const tmp = tempDir('cli-serve-access-');
const LE = [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian];

interface Serve { child: ChildProcessWithoutNullStreams; log: () => string; tls: number; plain: number; waitFor(re: RegExp): Promise<RegExpExecArray> }
const servers: Serve[] = [];

async function startServe(args: string[], cwd: string): Promise<Serve> {
  const child = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--plain-port', '0', ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { log += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { log += d; });
  const waitFor = (re: RegExp): Promise<RegExpExecArray> => new Promise((resolve, reject) => {
    // A hang guard, not a timed assertion.
    const guard = setTimeout(() => { child.stdout.off('data', check); reject(new Error(`no line ${re} in the serve log:\n${log}`)); }, 30_000);
    const check = (): void => {
      const m = re.exec(log);
      if (m !== null) { clearTimeout(guard); child.stdout.off('data', check); resolve(m); }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => reject(new Error(`serve exited (${code}) before ${re}:\n${log}`)));
    check();
  });
  const m = await waitFor(/listening for DICOM over TLS on 127\.0\.0\.1:(\d+) as AE (\S+), plain DICOM on 127\.0\.0\.1:(\d+)/);
  const s = { child, log: () => log, tls: Number(m[1]), plain: Number(m[3]), waitFor };
  servers.push(s);
  return s;
}

let open: Serve;
let guarded: Serve;
let ct: string;
const pkiOf = (dir: string) => (f: string): string => join(dir, 'dicom-tls-data', 'pki', f);

before(async () => {
  const dump = join(tmp.dir, 'ct.dump');
  writeFileSync(dump, ['(0008,0016) UI =CTImageStorage', '(0008,0018) UI [1.2.826.0.1.3680043.2.1125.9.1]', '(0008,0060) CS [CT]',
    '(0010,0010) PN [ACCESS^TEST]', '(0010,0020) LO [ACC1]', '(0020,000d) UI [1.2.826.0.1.3680043.2.1125.9]', '(0020,000e) UI [1.2.826.0.1.3680043.2.1125.9.1]', ''].join('\n'));
  ct = join(tmp.dir, 'ct.dcm');
  execFileSync('dump2dcm', ['+te', dump, ct]);
  execFileSync('mkdir', ['-p', join(tmp.dir, 'open'), join(tmp.dir, 'guarded')]);
  open = await startServe(['--aet', 'OPEN'], join(tmp.dir, 'open'));
  const users = join(tmp.dir, 'guarded', 'users');
  assert.equal((await runCli(['user', 'add', users, 'alice', '--password-env', 'ALICE_PW'], { env: { ALICE_PW: 'wonder land' } })).code, 0);
  assert.equal((await runCli(['user', 'add', users, 'bob', '--no-password'])).code, 0);
  writeFileSync(join(tmp.dir, 'guarded', 'serve.json'), JSON.stringify({
    aet: 'GUARDED', users: { file: 'users', require: true },
    access: [{ aet: '*', user: 'alice', permissions: ['echo', 'store', 'query'] }],
  }));
  guarded = await startServe(['--config', 'serve.json', '--dev-pki'], join(tmp.dir, 'guarded'));
});

after(async () => {
  for (const s of servers) if (s.child.exitCode === null) { s.child.kill('SIGKILL'); await new Promise((r) => s.child.once('exit', r)); }
  tmp.cleanup();
});

test('dicom-tls user: the file holds scrypt keys only, mode 0600; list, update, remove', async () => {
  const file = join(tmp.dir, 'guarded', 'users');
  const text = readFileSync(file, 'utf8');
  assert.match(text, /^alice:scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/m);
  assert.match(text, /^bob:$/m);
  assert.ok(!text.includes('wonder'), 'no password in the file');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const l = await runCli(['user', 'list', file, '--json']);
  assert.deepEqual(JSON.parse(l.stdout), { users: [{ user: 'alice', password: true }, { user: 'bob', password: false }] });
  const scratch = join(tmp.dir, 'scratch-users');
  assert.equal((await runCli(['user', 'add', scratch, 'carol', '--password-env', 'PW'], { env: { PW: 'a' } })).code, 0);
  const first = readFileSync(scratch, 'utf8');
  assert.match((await runCli(['user', 'add', scratch, 'carol', '--password-env', 'PW'], { env: { PW: 'b' } })).stdout, /updated carol/);
  assert.notEqual(readFileSync(scratch, 'utf8'), first);
  assert.equal((await runCli(['user', 'remove', scratch, 'carol'])).code, 0);
  assert.doesNotMatch(readFileSync(scratch, 'utf8'), /carol/);
  const bad = await runCli(['user', 'remove', scratch, 'nobody']);
  assert.equal(bad.code, 2);
  assert.match(oneSentenceError(bad).sentence, /has no user "nobody"/);
  const noPw = await runCli(['user', 'add', scratch, 'dave']);
  assert.equal(noPw.code, 2);
  assert.match(oneSentenceError(noPw).sentence, /needs a password/);
});

test('default rules, plain port: echoscu and storescu work, findscu gets no presentation context; the log says which rule', async () => {
  const e = await run('echoscu', ['-aec', 'OPEN', '127.0.0.1', String(open.plain)]);
  assert.equal(e.code, 0, e.output);
  await open.waitFor(/association ECHOSCU → OPEN from 127\.0\.0\.1:\d+ over plain DICOM; may echo, store \(default rule \(AE any\): echo, store\)/);
  const s = await run('storescu', ['-aec', 'OPEN', '127.0.0.1', String(open.plain), ct]);
  assert.equal(s.code, 0, s.output);
  const f = await run('findscu', ['-S', '-aec', 'OPEN', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '127.0.0.1', String(open.plain)]);
  assert.notEqual(f.code, 0);
  assert.match(f.output, /No Acceptable Presentation Contexts/);
});

test('default rules, TLS with the client certificate: findscu finds what the plain port stored', async () => {
  const pki = pkiOf(join(tmp.dir, 'open'));
  const f = await run('findscu', ['+tls', pki('client-key.pem'), pki('client.pem'), '+cf', pki('ca.pem'), '-S', '-aec', 'OPEN',
    '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '127.0.0.1', String(open.tls)]);
  assert.equal(f.code, 0, f.output);
  assert.match(f.output, /1\.2\.826\.0\.1\.3680043\.2\.1125\.9\b/);
  await open.waitFor(/may echo, store, query, retrieve \(default rule \(AE any, any verified certificate\)/);
});

test('--require-user: storescu --user/--password (DCMTK) is accepted with the right password, rejected 1/2/1 with a wrong one or none', async () => {
  const ok = await run('storescu', ['-aec', 'GUARDED', '--user', 'alice', '--password', 'wonder land', '--pos-response', '127.0.0.1', String(guarded.plain), ct]);
  assert.equal(ok.code, 0, ok.output);
  await guarded.waitFor(/association STORESCU → GUARDED from [^\n]*, user alice; may echo, store, query \(access rule 0/);
  const wrong = await run('storescu', ['-aec', 'GUARDED', '--user', 'alice', '--password', 'wrong', '127.0.0.1', String(guarded.plain), ct]);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.output, /Association Rejected[\s\S]*Rejected Permanent[\s\S]*Source: Service Provider \(ACSE Related\)[\s\S]*Reason: No Reason/);
  await guarded.waitFor(/association from STORESCU .* rejected: user identity \(username-passcode 'alice'\) rejected by the handler/);
  const none = await run('storescu', ['-aec', 'GUARDED', '127.0.0.1', String(guarded.plain), ct]);
  assert.notEqual(none.code, 0);
  assert.match(none.output, /Association Rejected/);
  await guarded.waitFor(/rejected: no user identity was given and the acceptor requires one/);
  // A user listed without a password may give its name alone (type 1); alice may not.
  const bob = await run('storescu', ['-aec', 'GUARDED', '--user', 'bob', '127.0.0.1', String(guarded.plain), ct]);
  assert.doesNotMatch(bob.output, /Association Rejected/);
  // bob matches no rule of his own: the default for a peer without a certificate.
  await guarded.waitFor(/association STORESCU → GUARDED from [^\n]*, user bob; may echo, store \(default rule \(AE any\): echo, store\)/);
  const aliceNameOnly = await run('storescu', ['-aec', 'GUARDED', '--user', 'alice', '127.0.0.1', String(guarded.plain), ct]);
  assert.match(aliceNameOnly.output, /Association Rejected/);
});

test('our client: username + passcode with a positive response requested; a rule for that user lets it query over the plain port', async () => {
  const contexts = [{ abstractSyntax: VerificationSopClass, transferSyntaxes: LE },
    { abstractSyntax: QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind, transferSyntaxes: LE }];
  const c = await DicomClient.associate({ host: '127.0.0.1', port: guarded.plain, callingAeTitle: 'OURS', calledAeTitle: 'GUARDED', presentationContexts: contexts,
    userIdentity: { type: 'username-passcode', username: 'alice', passcode: 'wonder land', positiveResponseRequested: true } });
  try {
    assert.equal(c.association.info.userIdentityResult?.confirmed, true);
    const found: unknown[] = [];
    for await (const m of c.find('STUDY_ROOT', { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: '' })) found.push(m);
    assert.equal(found.length, 1);
  } finally {
    await c.release();
  }
  // bob (name alone) falls to the default rule: no query over plain DICOM.
  const b = await DicomClient.associate({ host: '127.0.0.1', port: guarded.plain, callingAeTitle: 'OURS', calledAeTitle: 'GUARDED', presentationContexts: contexts,
    userIdentity: { type: 'username', username: 'bob' } });
  try {
    assert.deepEqual(b.association.info.contexts.rejected.map((r) => r.abstractSyntax), [QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind]);
  } finally {
    await b.release();
  }
  await assert.rejects(
    DicomClient.associate({ host: '127.0.0.1', port: guarded.plain, callingAeTitle: 'OURS', calledAeTitle: 'GUARDED', presentationContexts: contexts,
      userIdentity: { type: 'username-passcode', username: 'mallory', passcode: 'x' } }),
    (e: unknown) => e instanceof AssociationRejectedError && e.result === 1 && e.source === 2 && e.reason === 1,
  );
});

test('config mistakes are one sentence naming the field', async () => {
  const dir = join(tmp.dir, 'bad');
  execFileSync('mkdir', ['-p', dir]);
  const cases: Array<[unknown, RegExp]> = [
    [{ access: [{ aet: 'X', permissions: ['read'] }] }, /onfig access\[0\]\.permissions must be a list of "echo", "store", "query", "retrieve"/],
    [{ access: [{ aet: 'X', permissions: [], certificate: 'mine' }] }, /onfig access\[0\]\.certificate can only be "any"/],
    [{ users: { require: true } }, /--require-user \(users\.require\) needs a password file/],
    [{ access: [{ aet: '*', user: 'a', permissions: ['echo'] }] }, /names a "user", but no password file/],
    [{ users: { file: 'missing' } }, /annot read the users file/],
  ];
  for (const [config, re] of cases) {
    writeFileSync(join(dir, 'c.json'), JSON.stringify(config));
    const r = await runCli(['serve', '--config', 'c.json', '--port', '0'], { cwd: dir });
    assert.notEqual(r.code, 0);
    assert.match(oneSentenceError(r).sentence, re);
  }
});

test('dicom-tls echo --user/--user-password-env: accepted with the right password, exit 13 (rejected) with a wrong one or without', async () => {
  const echo = (extra: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(['echo', `127.0.0.1:${guarded.plain}`, '--no-tls', '--call', 'GUARDED', ...extra], { env });
  const ok = await echo(['--user', 'alice', '--user-password-env', 'PW'], { PW: 'wonder land' });
  assert.equal(ok.code, 0, ok.stderr);
  await guarded.waitFor(/association DICOM-TLS → GUARDED from [^\n]*, user alice; may echo, store, query/);
  for (const r of [await echo(['--user', 'alice', '--user-password-env', 'PW'], { PW: 'wrong' }), await echo([])]) {
    assert.equal(r.code, 13, r.stderr);
    assert.match(oneSentenceError(r).sentence, /Association rejected: rejected-permanent, source DICOM UL service-provider \(ACSE related function\), reason no-reason-given/);
  }
  const bad = await echo(['--user-password-env', 'PW'], { PW: 'x' });
  assert.equal(bad.code, 2);
  assert.match(oneSentenceError(bad).sentence, /A user password needs --user NAME/);
});
