/**
 * `kill -9` of one of three `serve` nodes behind HAProxy while instances stream to it, with
 * storescu +tls and dicom-tls store batches going through the balancer at the same time. The
 * killed node's associations end; the others are untouched. After the node is started again on
 * the same data: on every node, what C-FIND shows is exactly what C-GET gives back, complete and
 * byte for byte the source's (nothing half-visible: no row without its instance), where the files
 * are in a directory exactly those files with no temporary file left, on a shared store the same
 * on every node; `dicom-tls store check` (no grace period) finds nothing to repair, neither an
 * object without its row nor a row without its object. Every instance a sender saw acknowledged
 * is there; the balancer took the node out while it was down and back when it was up; and the
 * instances not acknowledged are stored when sent again through the balancer, on a shared index
 * none of them twice. Where the kill lands inside a store is not controlled: what is asserted
 * holds wherever it lands.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { clusterSkip, startHaproxy, type Haproxy } from '../helpers/haproxy.js';
import { startCluster, type Cluster, type ServeNode } from '../helpers/serve-cluster.js';
import { spec, writeBigInstance } from '../helpers/services.js';
import { hashesIn, makeBatches, nodeActivity, sendAll, sendBatch, visibleOn, type Batch, type SourceInstance } from '../helpers/cluster-traffic.js';
import { clusterModes, type ClusterBackend } from '../helpers/cluster-modes.js';

const tools = clusterSkip();

for (const mode of clusterModes) {
  describe(`kill -9 of a serve node behind HAProxy, ${mode.name}`, { skip: tools !== false ? tools : mode.skip }, () => {
    let tmp: { dir: string; cleanup: () => void };
    let backend: ClusterBackend | undefined;
    let cluster: Cluster | undefined;
    let balancer: Haproxy | undefined;
    let batches: Batch[] = [];
    /** Sent one by one on one association by an in-process client: the stream the kill cuts. */
    const victim: SourceInstance[] = [];
    const sources = new Map<string, SourceInstance>();

    before(async () => {
      tmp = tempDir('dicom-tls-cluster-crash-');
      const dir = join(tmp.dir, 'sources');
      mkdirSync(dir);
      batches = await makeBatches(dir, { senders: 6, perBatch: 6, bigBytes: 2 << 20 });
      for (let n = 101; n <= 110; n++) {
        const s = spec(n);
        const f = await writeBigInstance(dir, s, 3 << 20);
        victim.push({ uid: s.SOPInstanceUID, study: s.StudyInstanceUID, path: f.path, hash: f.hash });
      }
      for (const i of [...batches.flatMap((b) => b.instances), ...victim]) sources.set(i.uid, i);
      backend = await mode.start(join(tmp.dir, 'shared'));
      const b = backend;
      cluster = await startCluster({ dir: tmp.dir, nodes: 3, args: (i) => b.args(i), config: (i) => b.config(i), env: b.env, data: b.data });
      balancer = await startHaproxy({ backends: cluster.nodes.map((n) => ({ name: n.name, port: n.port, httpPort: n.httpPort })) });
    });

    after(async () => {
      await balancer?.stop();
      await cluster?.stop();
      await backend?.stop();
      tmp?.cleanup();
    });

    const context = (): string =>
      `\n--- haproxy\n${balancer?.output() ?? ''}\n${(cluster?.nodes ?? []).map((n) => `--- ${n.name}\n${n.output()}`).join('\n')}`;

    /**
     * What a node shows is what it gives back, each the source's data set; when its files are in
     * a directory here, also exactly those files, with no temporary file left.
     */
    async function checkNode(node: ServeNode, work: string): Promise<Map<string, string>> {
      const { pki, aet } = cluster!;
      const studies = [...new Set([...sources.values()].map((i) => i.study))].sort();
      const got = await visibleOn(node, studies, { pki, aet, work });
      for (const [uid, hash] of got) assert.equal(hash, sources.get(uid)!.hash, `${node.name}: ${uid} is not the source's data set`);
      // Where the files are on this machine (a node's own directory, or the one they all share):
      // exactly what is visible, and no temporary file left behind.
      if (!mode.shared || backend!.data !== undefined) {
        const files = join(node.data, 'files');
        assert.deepEqual(got, await hashesIn(files, '.dcm'), `${node.name}: what C-FIND shows and C-GET gives is not what is in ${files}`);
        const leftovers = readdirSync(files, { recursive: true }).map(String).filter((f) => f.includes('.partial-'));
        assert.deepEqual(leftovers, [], `${node.name}: temporary files left`);
      }
      return got;
    }

    /** `dicom-tls store check --dry-run` on the node's store: nothing to repair, nothing younger spared (--grace 0). */
    async function storeCheckClean(node: ServeNode, i: number): Promise<void> {
      const r = await runCli(['store', 'check', ...(node.configFile === undefined ? [] : ['--config', node.configFile]), '--data', node.data,
        ...backend!.args(i), '--grace', '0', '--dry-run', '--json'], { env: backend!.env });
      assert.equal(r.code, 0, `store check on ${node.name}:\n${r.stdout}${r.stderr}`);
    }

    test('during stores through HAProxy: nothing half-visible, every acknowledged instance intact, the rest storable', { timeout: 600_000 }, async () => {
      const { pki, aet, nodes } = cluster!;
      const tls = new SecureContext({ role: 'client', ca: [pki.ca], identity: { cert: pki.client, key: pki.clientKey } });
      const acknowledged = new Set<string>();
      let doomed: ServeNode;
      try {
        const client = await DicomClient.associate({ host: '127.0.0.1', port: balancer!.port, tls, callingAeTitle: 'VICTIM', calledAeTitle: aet,
          presentationContexts: await storageContextsFor(victim.map((i) => i.path)) });
        const storeOne = async (i: SourceInstance): Promise<boolean> => {
          try {
            const [r] = await client.store([i.path]);
            if (r?.status === 0) acknowledged.add(i.uid);
            return r?.status === 0;
          } catch {
            return false; // the association is gone
          }
        };
        assert.ok(await storeOne(victim[0]!), 'the first instance of the stream is stored');
        doomed = nodes.find((n) => nodeActivity(n).associations.some((a) => a.aet === 'VICTIM'))!;
        assert.ok(doomed !== undefined, `no node logged the VICTIM association${context()}`);
        // The batches start while the stream runs; then the stream's node dies under its next instance.
        const others = sendAll(batches, balancer!.port, pki, aet);
        for (const i of victim.slice(1, 3)) assert.ok(await storeOne(i), `${i.uid} stored before the kill`);
        const cut = storeOne(victim[3]!);
        await new Promise((r) => setImmediate(r));
        await doomed.kill9();
        assert.equal(await cut, false, 'the instance in flight at the kill is not acknowledged');
        client.abort().catch(() => undefined);
        const results = await others;
        for (const r of results) for (const uid of r.acknowledged) acknowledged.add(uid);
        // A batch whose association was on another node is not touched by the kill.
        for (const node of nodes.filter((n) => n !== doomed)) {
          for (const a of nodeActivity(node).associations) {
            const r = results.find((x) => x.batch.aet === a.aet);
            if (r !== undefined) assert.ok(r.ok, `${a.aet} on ${node.name}, which stayed up, failed:\n${r.output}`);
          }
          // Our CLI, its TLS handshake cut by the kill without an alert, asks the same address with a
          // plain A-ASSOCIATE-RQ whether it is a plain DICOM port (to say so in its error); behind the
          // balancer that probe meets another node, which refuses it as plain bytes on its TLS port.
          const probe = /handshake-failed: TLS handshake .* failed: plain DICOM arrived on a TLS port/;
          assert.deepEqual(nodeActivity(node).problems.filter((p) => !probe.test(p)), [], context());
        }
      } finally {
        tls.dispose();
      }

      await balancer!.waitForStats((s) => s.find((x) => x.name === doomed.name)?.status === 'DOWN', `${doomed.name} DOWN`);
      await doomed.start();
      await balancer!.waitForStats((s) => s.every((x) => x.status === 'UP'), 'every server UP again');

      const where = new Map<string, string[]>(); // uid → nodes that show it
      const seen: Map<string, string>[] = [];
      for (const node of nodes) {
        const got = await checkNode(node, join(tmp.dir, 'check-1'));
        seen.push(got);
        for (const uid of got.keys()) where.set(uid, [...(where.get(uid) ?? []), node.name]);
      }
      const lost = [...acknowledged].filter((u) => !where.has(u));
      assert.deepEqual(lost, [], `acknowledged but not stored anywhere${context()}`);
      if (mode.shared) {
        for (const [i, got] of seen.entries()) assert.deepEqual(got, seen[0], `${nodes[i]!.name} and ${nodes[0]!.name} show different instances`);
      } else {
        for (const [uid, on] of where) assert.equal(on.length, 1, `${uid} on ${on.join(', ')}`);
      }
      if (mode.storeCheck) for (const [i, node] of nodes.entries()) await storeCheckClean(node, i);

      // Whatever was not acknowledged is sent again through the balancer, and is then stored.
      const missing = [...sources.values()].filter((i) => !acknowledged.has(i.uid));
      assert.ok(missing.length > 0, 'the kill cut something');
      const again = await sendBatch({ aet: 'AGAIN', tool: 'dicom-tls', instances: missing }, balancer!.port, pki, aet);
      assert.ok(again.ok, again.output);
      const everywhere = new Map<string, string>();
      for (const node of nodes) for (const [uid, hash] of await checkNode(node, join(tmp.dir, 'check-2'))) everywhere.set(uid, hash);
      assert.deepEqual([...everywhere.keys()].sort(), [...sources.keys()].sort(), 'every source instance is stored');
      if (mode.shared) {
        // One index: no instance was ever stored twice, whichever node it was sent to again.
        const stored = nodes.flatMap((n) => [...nodeActivity(n).stored.values()].flat());
        assert.deepEqual(stored.filter((u, k) => stored.indexOf(u) !== k), [], 'stored twice');
      }
    });
  });
}
