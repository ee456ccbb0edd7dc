// serve's TLS settings from the config file and the command line: the key-exchange groups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveSettings } from '../../src/cli/serve-config.js';
import { contextOptionsFrom } from '../../src/cli/tls-options.js';
import type { Io } from '../../src/cli/io.js';

function withConfig<T>(tls: Record<string, unknown>, run: (path: string, dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'dicom-tls-serve-config-'));
  try {
    const path = join(dir, 'serve.json');
    writeFileSync(path, JSON.stringify({ tls }));
    return run(path, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('config tls.groups (array or string) and tls.requireHybridGroup reach the context options; the command line wins', async () => {
  const s = withConfig({ groups: ['X25519MLKEM768', 'X25519'], requireHybridGroup: false, peerCert: 'ignore' }, (config, dir) => serveSettings({ config }, dir));
  assert.equal(s.tls.groups, 'X25519MLKEM768:X25519');
  assert.equal(s.tls['require-hybrid-group'], false);
  const o = await contextOptionsFrom(s.tls, 'server', {} as Io);
  assert.equal(o?.groups, 'X25519MLKEM768:X25519');
  assert.equal(o?.requireHybridGroup, undefined);
  const cli = withConfig({ groups: 'X25519' }, (config, dir) => serveSettings({ config, groups: 'secp384r1', 'require-hybrid-group': true }, dir));
  assert.equal(cli.tls.groups, 'secp384r1');
  assert.equal(cli.tls['require-hybrid-group'], true);
});

test('config mistakes in the group settings are usage errors naming the field', () => {
  assert.throws(() => withConfig({ groups: 42 }, (config, dir) => serveSettings({ config }, dir)), /tls\.groups must be/);
  assert.throws(() => withConfig({ requireHybridGroup: 'yes' }, (config, dir) => serveSettings({ config }, dir)), /tls\.requireHybridGroup must be true or false/);
});

test('--groups is checked for its form before OpenSSL sees it', async () => {
  await assert.rejects(contextOptionsFrom({ groups: 'X25519 MLKEM', 'peer-cert': 'ignore' }, 'client', {} as Io), /--groups must be group names separated by colons/);
});
