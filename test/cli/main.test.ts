import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, oneSentenceError } from '../helpers/cli.js';

const COMMANDS = ['serve', 'echo', 'store', 'find', 'move', 'get', 'diagnose', 'pki'];

test('dicom-tls --help lists every command and the exit-code table', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c} `, 'm'));
  assert.match(r.stdout, /Exit codes/);
  for (const code of [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]) assert.match(r.stdout, new RegExp(`^ +${code}  `, 'm'));
});

test('no command prints the help and exits 2 (usage)', async () => {
  const r = await runCli([]);
  assert.equal(r.code, 2);
  assert.match(r.stdout, /Usage: dicom-tls <command>/);
});

for (const c of COMMANDS) {
  test(`dicom-tls ${c} --help shows usage and examples`, async () => {
    const r = await runCli([c, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage:/);
    assert.match(r.stdout, /Examples:/);
    assert.match(r.stdout, new RegExp(`dicom-tls ${c}`));
  });
}

test('an unknown command is a usage error: one sentence, exit 2', async () => {
  const r = await runCli(['frobnicate']);
  assert.equal(r.code, 2);
  assert.equal(oneSentenceError(r).code, 'DICOM_ERR_USAGE');
});

test('an unknown option names the option, exit 2', async () => {
  const r = await runCli(['pki', 'inspect', '--nope', 'x.pem']);
  assert.equal(r.code, 2);
  const e = oneSentenceError(r);
  assert.equal(e.code, 'DICOM_ERR_USAGE');
  assert.match(e.sentence, /--nope/);
});

test('--json turns an error into one JSON document on stdout', async () => {
  const r = await runCli(['pki', 'inspect', '/nonexistent/file.pem', '--json']);
  assert.equal(r.code, 3);
  const doc = JSON.parse(r.stdout) as { error: { code: string; exitCode: number; message: string } };
  assert.deepEqual([doc.error.code, doc.error.exitCode], ['DICOM_ERR_FILE', 3]);
});

test('--verbose adds the stack trace; without it there is none', async () => {
  const plain = await runCli(['pki', 'inspect', '/nonexistent/file.pem']);
  oneSentenceError(plain);
  const verbose = await runCli(['pki', 'inspect', '/nonexistent/file.pem', '--verbose']);
  assert.equal(verbose.code, 3);
  assert.match(verbose.stderr, /\n\s+at /);
});

test('serve refuses a bad config before it writes anything: exit 2, the field named', async () => {
  const { tempDir } = await import('../helpers/cli.js');
  const { writeFileSync, existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const tmp = tempDir('cli-config-');
  try {
    writeFileSync(join(tmp.dir, 'a.json'), JSON.stringify({ aet: 'PACS', colour: 'blue' }));
    const unknown = await runCli(['serve', '--config', 'a.json'], { cwd: tmp.dir });
    assert.equal(unknown.code, 2);
    assert.match(oneSentenceError(unknown).sentence, /unknown field "colour"/);
    writeFileSync(join(tmp.dir, 'b.json'), JSON.stringify({ tls: { peerCert: 'sometimes' } }));
    const policy = await runCli(['serve', '--config', 'b.json'], { cwd: tmp.dir });
    assert.equal(policy.code, 2);
    writeFileSync(join(tmp.dir, 'c.json'), '{ not json');
    assert.equal((await runCli(['serve', '--config', 'c.json'], { cwd: tmp.dir })).code, 2);
    writeFileSync(join(tmp.dir, 'd.json'), JSON.stringify({ asyncWindow: 'many' }));
    const window = await runCli(['serve', '--config', 'd.json'], { cwd: tmp.dir });
    assert.equal(window.code, 2);
    assert.match(oneSentenceError(window).sentence, /config asyncWindow must be a number/i);
    // The duplicates policy: by name, from the command line or the config's store section.
    const dup = await runCli(['serve', '--duplicates', 'keep-both'], { cwd: tmp.dir });
    assert.equal(dup.code, 2);
    assert.match(oneSentenceError(dup).sentence, /--duplicates must be one of keep-first, overwrite, reject; got "keep-both"/);
    writeFileSync(join(tmp.dir, 'e.json'), JSON.stringify({ store: { duplicates: 'sometimes' } }));
    assert.match(oneSentenceError(await runCli(['serve', '--config', 'e.json'], { cwd: tmp.dir })).sentence, /config store\.duplicates must be one of keep-first, overwrite, reject, got "sometimes"/i);
    writeFileSync(join(tmp.dir, 'f.json'), JSON.stringify({ store: { dedupe: true } }));
    assert.match(oneSentenceError(await runCli(['serve', '--config', 'f.json'], { cwd: tmp.dir })).sentence, /unknown field "store\.dedupe"/);
    const negative = await runCli(['serve', '--async-window', '-1'], { cwd: tmp.dir });
    assert.equal(negative.code, 2);
    assert.match(negative.stderr, /--async-window/);
    const huge = await runCli(['serve', '--async-window', '70000'], { cwd: tmp.dir });
    assert.equal(huge.code, 2);
    assert.match(oneSentenceError(huge).sentence, /--async-window must be a whole number 0–65535/i);
    for (const bad of ['-1', '1.5', '604801']) {
      const lifetime = await runCli(['serve', `--session-lifetime=${bad}`], { cwd: tmp.dir });
      assert.equal(lifetime.code, 2, bad);
      assert.match(oneSentenceError(lifetime).sentence, /--session-lifetime must be a whole number of seconds, 0–604800/i);
    }
    writeFileSync(join(tmp.dir, 'e.json'), JSON.stringify({ tls: { sessionLifetime: '1h' } }));
    assert.match(oneSentenceError(await runCli(['serve', '--config', 'e.json'], { cwd: tmp.dir })).sentence, /config tls\.sessionLifetime must be a whole number of seconds/i);
    assert.ok(!existsSync(join(tmp.dir, 'dicom-tls-data')), 'nothing written for a bad config');
  } finally {
    tmp.cleanup();
  }
});
