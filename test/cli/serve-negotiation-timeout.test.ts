/**
 * serve's negotiation timeout from the config file's "limits" (docs/limits.md): a user identity
 * check that never answers (the password file turned into a FIFO no one writes, so reading it
 * blocks) is refused A-ASSOCIATE-RJ 2/1/1 once limits.negotiationTimeout runs out, with the ARTIM
 * value left at its 30 s default. The client's own timeout sits below that default, so the test
 * fails when the setting is not applied.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/cli.js';
import { spawnServe, listening } from '../helpers/serve-process.js';
import { DicomClient } from '../../src/ae/client.js';
import { AssociationRejectedError } from '../../src/acse/errors.js';
import { TransferSyntax, VerificationSopClass } from '../../src/dictionary/uids.js';

test('serve refuses 2/1/1 an A-ASSOCIATE-RQ whose user identity check hangs past limits.negotiationTimeout', async () => {
  const { dir, cleanup } = tempDir('dicom-tls-serve-negotiation-');
  const users = join(dir, 'users');
  assert.equal((await runCli(['user', 'add', users, 'alice', '--password-env', 'ALICE_PW'], { env: { ALICE_PW: 'wonder land' } })).code, 0);
  writeFileSync(join(dir, 'c.json'), JSON.stringify({ users: { file: 'users' }, limits: { negotiationTimeout: 300 } }));
  const p = spawnServe(['--config', 'c.json', '--dev-pki', '--host', '127.0.0.1', '--port', '0', '--plain-port', '0', '--data', join(dir, 'data')], { cwd: dir });
  const fifo = join(dir, 'users.fifo');
  try {
    const { plainPort } = await listening(p);
    assert.ok(plainPort !== undefined, p.output());
    // The file is read at every association: from now on that read waits for a writer.
    execFileSync('mkfifo', [fifo]);
    renameSync(fifo, users);
    await assert.rejects(
      DicomClient.associate({
        host: '127.0.0.1', port: plainPort, callingAeTitle: 'OURS', calledAeTitle: 'DICOM-TLS',
        presentationContexts: [{ abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }],
        userIdentity: { type: 'username-passcode', username: 'alice', passcode: 'wonder land' },
        timeouts: { association: 20_000 },
      }),
      (e: unknown) => e instanceof AssociationRejectedError && e.result === 2 && e.source === 1 && e.reason === 1,
    );
    await p.waitFor(/rejected: the acceptor policy did not answer the A-ASSOCIATE-RQ within 300 ms/, 20_000);
  } finally {
    // Let the blocked read end (a writer that writes nothing: end of file), then stop the server.
    try {
      closeSync(openSync(users, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch { /* no reader waiting, or a plain file */ }
    await p.kill();
    cleanup();
  }
});
