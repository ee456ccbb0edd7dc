/**
 * The server the live fuzzer attacks, in its own process so that a crash is seen as one: two
 * StorageServers as `serve` runs them (storage, C-FIND/C-MOVE/C-GET, commitment, a user identity
 * handler), one on plain TCP and one on TLS requiring a client certificate. argv[2]: JSON
 * { plainRoot, tlsRoot, tls: { cert, key, ca } }. Prints `{"plain":N,"tls":M}` once listening,
 * and `{"failed":…}` for every association its last-resort guard had to abort (a defect too).
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { StorageServer, type StorageServerConfig } from '../../src/services/scp/storage-server.js';
import { channelNames } from '../../src/diagnostics.js';
import { SecureContext } from '../../src/transport/tls/context.js';

const config = JSON.parse(process.argv[2] ?? '{}') as { plainRoot: string; tlsRoot: string; tls: { cert: string; key: string; ca: string } };

diagnosticsChannel.subscribe(channelNames.association, (m) => {
  const e = m as { kind?: string; detail?: { stage?: string; error?: Error } };
  if (e.kind === 'failed') {
    const cause = e.detail?.error?.cause;
    process.stdout.write(`${JSON.stringify({ failed: e.detail?.stage, why: String(e.detail?.error?.message), cause: cause instanceof Error ? cause.stack : String(cause) })}\n`);
  }
});

const common = (storeRoot: string): StorageServerConfig => ({
  aeTitle: ['FUZZ-SCP', 'ANY-SCP'],
  storeRoot,
  fsync: 'none',
  limits: { maxPduLength: 16384, idleTimeout: 20_000 },
  server: {
    timeouts: { artim: 10_000 },
    // Every identity type reaches a handler: usernames are checked, tokens accepted with a response.
    userIdentity: (id) => (id.username !== undefined ? id.username === 'fuzz' : { accept: true, serverResponse: Uint8Array.of(1, 2, 3) }),
    sopClassExtended: (_uid, info) => info,
    sopClassCommonExtended: (items) => items.map((i) => i.sopClassUid),
  },
});

const plain = await StorageServer.create(common(config.plainRoot));
const secure = await StorageServer.create({
  ...common(config.tlsRoot),
  tls: new SecureContext({ role: 'server', identity: { cert: config.tls.cert, key: config.tls.key }, ca: [config.tls.ca] }),
});
const p = await plain.listen(0);
const t = await secure.listen(0);
process.stdout.write(`${JSON.stringify({ plain: p.port, tls: t.port })}\n`);
process.on('SIGTERM', () => {
  void Promise.all([plain.close({ timeout: 500 }), secure.close({ timeout: 500 })]).then(() => process.exit(0));
});
