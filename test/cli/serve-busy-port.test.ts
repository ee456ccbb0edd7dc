/**
 * `serve --port` on a port another program holds fails with one sentence before it creates
 * anything: no data directory, no development PKI, no index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, oneSentenceError, tempDir } from '../helpers/cli.js';

for (const [what, hostArgs] of [['--host 127.0.0.1', ['--host', '127.0.0.1']], ['the default host', []]] as const) {
  test(`serve --port on a busy port (${what}): exit 8, one sentence, nothing created`, async () => {
    const holder = net.createServer();
    holder.listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const port = (holder.address() as net.AddressInfo).port;
    const tmp = tempDir('cli-busy-');
    try {
      const r = await runCli(['serve', ...hostArgs, '--port', String(port)], { cwd: tmp.dir });
      assert.equal(r.code, 8, r.stdout + r.stderr);
      assert.match(oneSentenceError(r).sentence, new RegExp(`--port ${port}: the port is already in use`));
      assert.equal(existsSync(join(tmp.dir, 'dicom-tls-data')), false, readdirSync(tmp.dir).join(', '));
      assert.deepEqual(readdirSync(tmp.dir), []);
    } finally {
      holder.close();
      tmp.cleanup();
    }
  });
}
