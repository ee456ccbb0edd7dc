/**
 * The documented balancer configuration sends a client whose node refuses the connection (killed
 * or stopped, and not yet marked down by the health check) to another node. Made deterministic
 * with a "ghost" server: its health check asks a live node's /readyz (so the balancer holds it up)
 * but nothing listens on its DICOM port. Every association still succeeds, the ones the balancer
 * picked the ghost for land on the live node after retries, and the live node logs nothing but
 * those associations.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, tempDir } from '../helpers/cli.js';
import { freePort } from '../helpers/dcmtk.js';
import { clusterSkip, startHaproxy, type Haproxy } from '../helpers/haproxy.js';
import { startCluster, type Cluster } from '../helpers/serve-cluster.js';
import { cliTls, logsSettled, nodeActivity } from '../helpers/cluster-traffic.js';

const skip = clusterSkip();
let tmp: { dir: string; cleanup: () => void };
let cluster: Cluster | undefined;
let balancer: Haproxy | undefined;

before(async () => {
  if (skip !== false) return;
  tmp = tempDir('dicom-tls-cluster-redispatch-');
  cluster = await startCluster({ dir: tmp.dir, nodes: 1 });
  const live = cluster.nodes[0]!;
  balancer = await startHaproxy({ backends: [
    { name: 'ghost', port: await freePort(), httpPort: live.httpPort },
    { name: live.name, port: live.port, httpPort: live.httpPort },
  ] });
});

after(async () => {
  await balancer?.stop();
  await cluster?.stop();
  tmp?.cleanup();
});

test('a node that refuses the connection costs the client a retry on another node, not a failure', { skip, timeout: 300_000 }, async () => {
  const { pki, aet, nodes } = cluster!;
  const associations = 4;
  for (let i = 1; i <= associations; i++) {
    const r = await runCli(['echo', `127.0.0.1:${balancer!.port}`, '--call', aet, '--aet', `ECHO${i}`, ...cliTls(pki)]);
    assert.equal(r.code, 0, `echo ${i}: ${r.stdout}${r.stderr}\n${balancer!.output()}`);
  }
  const connections = await balancer!.waitForConnections(associations);
  await logsSettled(nodes);
  assert.ok(connections.every((c) => c.server === nodes[0]!.name), `every connection ends on the live node:\n${balancer!.output()}`);
  // HAProxy's retry count: "+N" when the connection was redispatched to another server.
  assert.ok(connections.some((c) => c.retries.startsWith('+')), `the ghost was picked and its connection redispatched:\n${balancer!.output()}`);
  assert.deepEqual(nodeActivity(nodes[0]!).associations.map((a) => a.aet).sort(), Array.from({ length: associations }, (_, k) => `ECHO${k + 1}`));
  assert.deepEqual(nodeActivity(nodes[0]!).problems, []);
});
