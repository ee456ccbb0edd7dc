/**
 * docs/operations.md: the systemd unit passes `systemd-analyze verify`, the HAProxy example passes
 * `haproxy -c` as shipped (test/cluster runs it in front of real nodes), and the backup it
 * describes (VACUUM INTO while serving) gives an index that lists what was stored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { spawnServe, listening } from '../helpers/serve-process.js';
import { EXAMPLE_CONFIG, findHaproxy } from '../helpers/haproxy.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const unit = join(root, 'docs', 'examples', 'dicom-tls.service');
const analyze = spawnSync('systemd-analyze', ['--version']).error === undefined;

test('the systemd unit passes systemd-analyze verify without a warning', { skip: analyze ? false : 'systemd-analyze is not installed (apt-get install systemd)' }, () => {
  const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr.trim(), '', 'no warnings');
  const text = readFileSync(unit, 'utf8');
  assert.match(text, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  assert.match(readFileSync(join(root, 'docs', 'operations.md'), 'utf8'), /examples\/dicom-tls\.service/);
});

const haproxy = findHaproxy();

test('the HAProxy example is a valid configuration as shipped, and the page points to it', { skip: haproxy === undefined ? 'haproxy is not installed (apt-get install haproxy)' : false }, () => {
  const r = spawnSync(haproxy!, ['-c', '-f', EXAMPLE_CONFIG], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(readFileSync(join(root, 'docs', 'operations.md'), 'utf8'), /\(examples\/haproxy\.cfg\)/);
});

test('the documented backup: VACUUM INTO while serving gives an index listing the stored instance', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ops-backup-'));
  const p = spawnServe(['--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', join(dir, 'data')], { cwd: dir });
  try {
    const { plainPort } = await listening(p);
    writeFileSync(join(dir, 'b.dump'), ['(0008,0016) UI =CTImageStorage', '(0008,0018) UI [1.2.826.0.1.3680043.2.1125.6.1]',
      '(0010,0020) LO [B]', '(0020,000d) UI [1.2.826.0.1.3680043.2.1125.6]', '(0020,000e) UI [1.2.826.0.1.3680043.2.1125.6.2]', ''].join('\n'));
    execFileSync('dump2dcm', ['+te', 'b.dump', 'b.dcm'], { cwd: dir, stdio: 'pipe' });
    execFileSync('storescu', ['-aec', 'DICOM-TLS', '127.0.0.1', String(plainPort), 'b.dcm'], { cwd: dir, stdio: 'pipe' });
    // The command of docs/operations.md, with this test's paths.
    const doc = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
    const line = /^node -e "(.*)"$/m.exec(doc)![1]!.replace(/\\"/g, '"')
      .replace('/var/lib/dicom-tls/index.sqlite', join(dir, 'data', 'index.sqlite')).replace('/backup/index.sqlite', join(dir, 'backup.sqlite'));
    execFileSync(process.execPath, ['-e', line], { stdio: 'pipe' });
    assert.ok(existsSync(join(dir, 'backup.sqlite')));
    const db = new DatabaseSync(join(dir, 'backup.sqlite'), { readOnly: true });
    try {
      const rows = db.prepare('SELECT * FROM instance').all() as Record<string, unknown>[];
      assert.ok(rows.some((r) => Object.values(r).includes('1.2.826.0.1.3680043.2.1125.6.1')), JSON.stringify(rows));
    } finally { db.close(); }
  } finally {
    await p.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
