/**
 * Three `dicom-tls serve` nodes behind HAProxy in TCP mode: DCMTK's `storescu +tls` and our
 * `dicom-tls store` send batches through the balancer at the same time. TLS passes through the
 * balancer: each node verifies the client's certificate itself. Every association is accepted and
 * every instance acknowledged and stored once, byte for byte the source's data set; a batch (one
 * association, one TCP connection) lands whole on one node; the traffic is spread over more than
 * one node; the balancer's health checks (HTTP /readyz) leave no trace in the nodes' DICOM logs.
 * Then each node, asked directly, answers C-FIND as dcmqrscp does loaded with the instances the
 * node must know (its own on an embedded store, all of them on a shared one) and gives them back
 * by C-GET and C-MOVE — on a shared store, instances another node received — and answers a
 * Storage Commitment request for them.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, rmSync } from 'node:fs';
import { tempDir } from '../helpers/cli.js';
import { startListening, type Daemon } from '../helpers/dcmtk.js';
import { clusterSkip, startHaproxy, type Haproxy } from '../helpers/haproxy.js';
import { startCluster, type Cluster } from '../helpers/serve-cluster.js';
import { filesOnNode, getStudies, hashesIn, logsSettled, makeBatches, moveStudies, nodeActivity, sendAll, sendBatch, visibleOn, type Batch } from '../helpers/cluster-traffic.js';
import { startDcmqrscp, findscuValues, type FindQuestion } from '../helpers/dcmqrscp.js';
import { writeServePki } from '../helpers/serve-pki.js';
import { ctImageStorage } from '../helpers/dicom-data.js';
import { DicomClient } from '../../src/ae/client.js';
import { SecureContext } from '../../src/transport/tls/context.js';
import { NormalizedSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { clusterModes, type ClusterBackend } from '../helpers/cluster-modes.js';

const tools = clusterSkip();

/** Questions at each level, with single values, wildcards, ranges and the hierarchy below a study. */
function questions(studies: readonly string[]): FindQuestion[] {
  return [
    { model: 'PATIENT_ROOT', keys: { QueryRetrieveLevel: 'PATIENT', PatientName: 'TEST*' }, compare: 'PatientID' },
    { model: 'PATIENT_ROOT', keys: { QueryRetrieveLevel: 'PATIENT', PatientID: 'PID?' }, compare: 'PatientID' },
    { model: 'PATIENT_ROOT', keys: { QueryRetrieveLevel: 'STUDY', PatientID: 'PID1' }, compare: 'StudyInstanceUID' },
    { model: 'STUDY_ROOT', keys: { QueryRetrieveLevel: 'STUDY', StudyDate: '20200101-20200102' }, compare: 'StudyInstanceUID' },
    { model: 'STUDY_ROOT', keys: { QueryRetrieveLevel: 'STUDY', PatientName: 'TEST^P2' }, compare: 'StudyInstanceUID' },
    { model: 'STUDY_ROOT', keys: { QueryRetrieveLevel: 'STUDY', StudyInstanceUID: studies.join('\\') }, compare: 'StudyInstanceUID' },
    ...studies.flatMap((study): FindQuestion[] => [
      { model: 'STUDY_ROOT', keys: { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: study, Modality: 'CT' }, compare: 'SeriesInstanceUID' },
      { model: 'STUDY_ROOT', keys: { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: study, SeriesInstanceUID: `${study}.1` }, compare: 'SOPInstanceUID' },
    ]),
  ];
}

for (const mode of clusterModes) {
  describe(`three serve nodes behind HAProxy, ${mode.name}`, { skip: tools !== false ? tools : mode.skip }, () => {
    let tmp: { dir: string; cleanup: () => void };
    let archiveDir: string;
    let backend: ClusterBackend | undefined;
    let cluster: Cluster | undefined;
    let balancer: Haproxy | undefined;
    let archive: Daemon | undefined;
    let batches: Batch[] = [];
    /** Which node received (logged "stored" for) each instance, filled by the first test. */
    const receivedBy = new Map<string, string>();

    before(async () => {
      tmp = tempDir('dicom-tls-cluster-');
      archiveDir = join(tmp.dir, 'archive');
      const sources = join(tmp.dir, 'sources');
      mkdirSync(sources);
      // Six associations, three per tool; 2 MiB multi-frame instance first in each.
      batches = await makeBatches(sources, { senders: 6, perBatch: 6, bigBytes: 2 << 20 });
      // The C-MOVE destination: DCMTK's storescp over TLS, requiring the nodes' certificate.
      const pki = writeServePki(join(tmp.dir, 'pki'), 'cluster');
      mkdirSync(archiveDir);
      archive = await startListening('storescp', ['+tls', pki.serverKey, pki.server, '+cf', pki.ca, '-aet', 'ARCHIVE', '-od', archiveDir]);
      backend = await mode.start(join(tmp.dir, 'shared'));
      const b = backend;
      cluster = await startCluster({
        dir: tmp.dir, nodes: 3, pki, args: (i) => b.args(i), env: b.env, data: b.data,
        config: (i) => ({ ...b.config(i), moveDestinations: { ARCHIVE: { host: '127.0.0.1', port: archive!.port, tls: true } } }),
      });
      // The documented configuration (leastconn, /readyz checks), with the nodes' addresses.
      balancer = await startHaproxy({ backends: cluster.nodes.map((n) => ({ name: n.name, port: n.port, httpPort: n.httpPort })) });
    });

    after(async () => {
      await balancer?.stop();
      await cluster?.stop();
      await archive?.stop();
      await backend?.stop();
      tmp?.cleanup();
    });

    /** What to show when an assertion fails: the balancer's log and each node's. */
    const context = (): string =>
      `\n--- haproxy\n${balancer?.output() ?? ''}\n${(cluster?.nodes ?? []).map((n) => `--- ${n.name}\n${n.output()}`).join('\n')}`;

    test('storescu +tls and dicom-tls store through HAProxy at once: every instance stored once, byte for byte, on more than one node', { timeout: 600_000 }, async () => {
      const { pki, aet, nodes } = cluster!;
      const results = await sendAll(batches, balancer!.port, pki, aet);
      for (const r of results) {
        assert.ok(r.ok, `${r.batch.aet} (${r.batch.tool}) failed:\n${r.output}${context()}`);
        assert.deepEqual(r.acknowledged, r.batch.instances.map((i) => i.uid), `${r.batch.aet}: not every instance acknowledged, in order:\n${r.output}`);
      }
      await logsSettled(nodes);

      const source = new Map(batches.flatMap((b) => b.instances.map((i) => [i.uid, i.hash] as const)));
      const nodeOfBatch = new Map<string, string>(); // calling AE → node
      // The balancer's source address and port → association, per node: the kernel may give two
      // connections to different nodes the same source port, so the port alone names nothing.
      const peers = new Map<string, { node: string; aet: string; tool: string | undefined }>();
      for (const node of nodes) {
        const activity = nodeActivity(node);
        assert.deepEqual(activity.problems, [], context());
        // TLS ended at the node, not at the balancer: the node saw the client's certificate.
        for (const a of activity.associations) {
          assert.match(a.tls?.subject ?? '', /CN=cluster client/, `${node.name}: association ${a.aet} without the client certificate`);
          assert.match(a.tls?.protocol ?? '', /^TLSv1\.[23]$/);
          assert.ok(!nodeOfBatch.has(a.aet), `${a.aet} associated twice (${nodeOfBatch.get(a.aet)} and ${node.name})`);
          nodeOfBatch.set(a.aet, node.name);
          const key = `${node.name} ${a.peer}`;
          assert.ok(!peers.has(key), `${node.name}: two associations from ${a.peer}`);
          peers.set(key, { node: node.name, aet: a.aet, tool: batches.find((b) => b.aet === a.aet)?.tool });
        }
        // A batch is one association: all of it stored by the node that accepted that association, once.
        for (const [aet, uids] of activity.stored) {
          const batch = batches.find((b) => b.aet === aet)!;
          assert.deepEqual([...uids].sort(), batch.instances.map((i) => i.uid).sort(), `${node.name}: batch ${aet} split, doubled or incomplete`);
          for (const uid of uids) {
            assert.ok(!receivedBy.has(uid), `${uid} stored by ${receivedBy.get(uid)} and ${node.name}`);
            receivedBy.set(uid, node.name);
          }
        }
      }
      assert.deepEqual([...receivedBy.keys()].sort(), [...source.keys()].sort(), 'every source instance stored exactly once');
      assert.deepEqual([...nodeOfBatch.keys()].sort(), batches.map((b) => b.aet).sort(), 'one association per batch, no other');
      const used = new Set(nodeOfBatch.values());
      assert.ok(used.size > 1, `all associations went to ${[...used].join()}${context()}`);

      if (mode.shared) {
        // One store: every node shows and gives back every instance, whichever node received it.
        for (const node of nodes) {
          const got = await visibleOn(node, [...new Set(batches.flatMap((b) => b.instances.map((i) => i.study)))], { pki, aet, work: join(tmp.dir, 'seen') });
          assert.deepEqual(got, source, `${node.name}: not every instance, or not byte for byte`);
        }
      } else {
        // Its own store: the files on a node are exactly what its log says it stored, each the source's data set.
        for (const node of nodes) {
          const files = await filesOnNode(node);
          assert.deepEqual([...files.keys()].sort(), [...receivedBy].filter(([, n]) => n === node.name).map(([u]) => u).sort(), `${node.name}: files and stored events differ`);
          for (const [uid, hash] of files) assert.equal(hash, source.get(uid), `${node.name}: ${uid} differs from the source`);
        }
      }

      // The balancer's view agrees: one logged connection per association, to the node that logged
      // that association (matched by the node and the balancer's source address, the peer the node
      // saw), each association once, none of them ended by a node or by the balancer; health
      // checks are not frontend connections.
      const connections = await balancer!.waitForConnections(batches.length);
      assert.equal(connections.length, batches.length, balancer!.output());
      const matched = new Set<string>();
      for (const c of connections) {
        const a = peers.get(`${c.server} ${c.via}`);
        assert.ok(a !== undefined, `connection ${JSON.stringify(c)} is not an association of ${c.server}`);
        assert.ok(!matched.has(a.aet), `${a.aet}: two connections`);
        matched.add(a.aet);
        assert.equal(c.retries, '0', `connection ${JSON.stringify(c)} needed a retry`);
        // "--": closed normally by both sides. "CD": the client reset it after the last data: it
        // closes its socket as soon as the A-RELEASE-RP is in (PS3.8 AR-3), and the node's
        // answering TLS close_notify then meets a closed socket (seen with our CLI, which exits at
        // once, and now and then with storescu); that the association itself ended in a release
        // is in the nodes' logs, checked above. Anything else — a node or the balancer ending the
        // connection, a timeout — is a failure.
        assert.ok(['--', 'CD'].includes(c.termination), `${a.aet} (${a.tool}) via ${c.server}: termination ${c.termination}\n${balancer!.output()}`);
      }
      const stats = await balancer!.stats();
      assert.ok(stats.every((s) => s.status === 'UP' && s.check === 'L7OK'), JSON.stringify(stats));
    });

    test(`each node answers C-FIND as dcmqrscp does with the instances it must know, and gives them back by C-GET and C-MOVE byte for byte`, { timeout: 600_000 }, async () => {
      const { pki, aet, nodes } = cluster!;
      assert.ok(receivedBy.size > 0, 'the first test stored the batches');
      const sources = new Map(batches.flatMap((b) => b.instances.map((i) => [i.uid, i] as const)));
      // What each node must know: on its own store what it received, on a shared one everything.
      const known = nodes.map((n) => [...sources.keys()].filter((u) => mode.shared || receivedBy.get(u) === n.name).sort());
      // The reference: dcmqrscp loaded from the source files, one storage area per node (one for
      // all on a shared store), each asked every question once.
      const area = (i: number): string => (mode.shared ? 'ALL' : nodes[i]!.name.toUpperCase());
      const qr = await startDcmqrscp(join(tmp.dir, 'qr'), Object.fromEntries(nodes.map((_, i) => [area(i), known[i]!.map((u) => sources.get(u)!.path)])));
      try {
        const studies = [...new Set([...sources.values()].map((i) => i.study))].sort();
        const reference = new Map<string, Promise<string[]>>();
        const differences: string[] = [];
        let answered = 0;
        for (const [i, node] of nodes.entries()) {
          for (const [k, q] of questions(studies).entries()) {
            const key = `${area(i)} ${k}`;
            if (!reference.has(key)) reference.set(key, findscuValues({ port: qr.port, aet: area(i) }, q, join(tmp.dir, 'find')));
            const expected = await reference.get(key)!;
            const actual = await findscuValues({ port: node.port, aet, tls: { key: pki.clientKey, cert: pki.client, ca: pki.ca } }, q, join(tmp.dir, 'find'));
            if (expected.length > 0) answered++;
            if (JSON.stringify(actual) !== JSON.stringify(expected)) differences.push(`${node.name} ${JSON.stringify(q)}: node ${JSON.stringify(actual)}, dcmqrscp ${JSON.stringify(expected)}`);
          }
          // Retrieve the studies of what the node must know, both ways.
          const expected = new Map(known[i]!.map((u) => [u, sources.get(u)!.hash]));
          if (mode.shared) assert.ok(known[i]!.some((u) => receivedBy.get(u) !== node.name), `${node.name} retrieves instances another node received`);
          const mine = [...new Set(known[i]!.map((u) => sources.get(u)!.study))];
          const got = await getStudies(node, mine, { pki, aet, out: join(tmp.dir, `get-${node.name}`) });
          assert.deepEqual(got, expected, `${node.name}: C-GET gives something else`);
          await moveStudies(node, mine, { pki, aet, dest: 'ARCHIVE' });
          assert.deepEqual(await hashesIn(archiveDir), expected, `${node.name}: C-MOVE gives something else`);
          rmSync(archiveDir, { recursive: true, force: true });
          mkdirSync(archiveDir);
        }
        assert.deepEqual(differences, [], differences.join('\n'));
        // Two empty answers agree too: most questions must have matched something somewhere.
        assert.ok(answered >= nodes.length * 4, `dcmqrscp matched something for only ${answered} questions`);
      } finally {
        await qr.stop();
      }
    });

    test('Storage Commitment asked of each node: committed what the node must know, the rest reported missing (0112)', { timeout: 600_000 }, async () => {
      const { pki, aet, nodes } = cluster!;
      assert.ok(receivedBy.size > 0, 'the first test stored the batches');
      const all = batches.flatMap((b) => b.instances.map((i) => i.uid)).sort();
      const tls = new SecureContext({ role: 'client', ca: [pki.ca], identity: { cert: pki.client, key: pki.clientKey } });
      try {
        for (const node of nodes) {
          const client = await DicomClient.associate({ host: '127.0.0.1', port: node.port, tls, callingAeTitle: 'COMMITTER', calledAeTitle: aet,
            presentationContexts: [{ abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] }] });
          try {
            const report = await client.commit(all.map((sopInstanceUid) => ({ sopClassUid: ctImageStorage, sopInstanceUid })), { timeout: 120_000 });
            const known = all.filter((u) => mode.shared || receivedBy.get(u) === node.name);
            assert.deepEqual(report.committed.map((r) => r.sopInstanceUid).sort(), known, `${node.name}: committed`);
            assert.deepEqual(report.failed.map((r) => [r.sopInstanceUid, r.failureReason]).sort(), all.filter((u) => !known.includes(u)).map((u) => [u, 0x0112]), `${node.name}: failed`);
          } finally {
            await client.release();
          }
        }
      } finally {
        tls.dispose();
      }
    });

    test('the same instances sent to two nodes at once: each sender is answered Success; one index stores them once (duplicates: keep-first)', { timeout: 600_000 }, async () => {
      const { pki, aet, nodes } = cluster!;
      const dir = join(tmp.dir, 'twins');
      mkdirSync(dir);
      const [batch] = await makeBatches(dir, { senders: 1, perBatch: 8, bigBytes: 4 << 20, first: 200 });
      const twins: Batch[] = [{ ...batch!, aet: 'TWIN-A', tool: 'storescu' }, { ...batch!, aet: 'TWIN-B', tool: 'dicom-tls' }];
      const [a, b] = [nodes[0]!, nodes[1]!];
      const results = await Promise.all([sendBatch(twins[0]!, a.port, pki, aet), sendBatch(twins[1]!, b.port, pki, aet)]);
      const uids = batch!.instances.map((i) => i.uid);
      for (const r of results) assert.deepEqual(r.acknowledged, uids, `${r.batch.aet}:\n${r.output}`);
      await logsSettled(nodes);
      const events = (event: string): string[] => nodes.flatMap((n) => n.events().filter((e) => e.event === event && String(e['callingAeTitle']).startsWith('TWIN-')).map((e) => String(e['sopInstanceUid']))).sort();
      if (mode.shared) {
        // Stored by one node or the other, never both; the other answered Success for the copy it has.
        assert.deepEqual(events('stored'), [...uids].sort(), 'each instance stored once');
        assert.deepEqual(events('store-duplicate'), [...uids].sort(), 'each second copy kept out');
        const got = await visibleOn(nodes[2]!, [...new Set(batch!.instances.map((i) => i.study))], { pki, aet, work: join(tmp.dir, 'twins-seen') });
        for (const i of batch!.instances) assert.equal(got.get(i.uid), i.hash, `${i.uid} on ${nodes[2]!.name}`);
      } else {
        // Two stores: each node keeps its own copy, and the third has none.
        assert.deepEqual(events('stored'), [...uids, ...uids].sort());
        for (const n of [a, b]) for (const i of batch!.instances) assert.equal((await filesOnNode(n)).get(i.uid), i.hash, `${i.uid} on ${n.name}`);
        assert.ok(![...(await filesOnNode(nodes[2]!)).keys()].some((u) => uids.includes(u)));
      }
    });
  });
}
