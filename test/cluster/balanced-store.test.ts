/**
 * Three `dicom-tls serve` nodes behind HAProxy in TCP mode, each on its own data directory (the
 * embedded default): DCMTK's `storescu +tls` and our `dicom-tls store` send batches through the
 * balancer at the same time. TLS passes through the balancer: each node verifies the client's
 * certificate itself. Every association is accepted and every instance acknowledged; each
 * instance is on exactly one node, byte for byte the source's data set; a batch (one association,
 * one TCP connection) lands whole on one node; the traffic is spread over more than one node; and
 * the balancer's health checks (HTTP /readyz) leave no trace in the nodes' DICOM logs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, rmSync } from 'node:fs';
import { tempDir } from '../helpers/cli.js';
import { hasDcmtk, startListening, type Daemon } from '../helpers/dcmtk.js';
import { findHaproxy, startHaproxy, type Haproxy } from '../helpers/haproxy.js';
import { startCluster, type Cluster } from '../helpers/serve-cluster.js';
import { filesOnNode, getStudies, hashesIn, makeBatches, moveStudies, nodeActivity, sendAll, type Batch } from '../helpers/cluster-traffic.js';
import { startDcmqrscp, findscuValues, type FindQuestion } from '../helpers/dcmqrscp.js';
import { writeServePki } from '../helpers/serve-pki.js';

const skip = findHaproxy() === undefined ? 'haproxy missing (Debian: haproxy)' : !hasDcmtk('storescu') ? 'DCMTK missing' : false;
const tmp = tempDir('dicom-tls-cluster-');
let cluster: Cluster | undefined;
let balancer: Haproxy | undefined;
let archive: Daemon | undefined;
let batches: Batch[] = [];
const archiveDir = join(tmp.dir, 'archive');

before(async () => {
  if (skip !== false) return;
  const sources = join(tmp.dir, 'sources');
  mkdirSync(sources);
  // Six associations, three per tool; 2 MiB multi-frame instance first in each.
  batches = await makeBatches(sources, { senders: 6, perBatch: 6, bigBytes: 2 << 20 });
  // The C-MOVE destination: DCMTK's storescp over TLS, requiring the nodes' certificate.
  const pki = writeServePki(join(tmp.dir, 'pki'), 'cluster');
  mkdirSync(archiveDir);
  archive = await startListening('storescp', ['+tls', pki.serverKey, pki.server, '+cf', pki.ca, '-aet', 'ARCHIVE', '-od', archiveDir]);
  cluster = await startCluster({ dir: tmp.dir, nodes: 3, pki, config: () => ({ moveDestinations: { ARCHIVE: { host: '127.0.0.1', port: archive!.port, tls: true } } }) });
  // leastconn: what a site picks for connections as long and uneven as DICOM associations.
  balancer = await startHaproxy({ backends: cluster.nodes.map((n) => ({ name: n.name, port: n.port, httpPort: n.httpPort })), balance: 'leastconn' });
});

after(async () => {
  await balancer?.stop();
  await cluster?.stop();
  await archive?.stop();
  tmp.cleanup();
});

/** What to show when an assertion fails: the balancer's log and each node's. */
function context(): string {
  return `\n--- haproxy\n${balancer?.output() ?? ''}\n${(cluster?.nodes ?? []).map((n) => `--- ${n.name}\n${n.output()}`).join('\n')}`;
}

test('storescu +tls and dicom-tls store through HAProxy at once: every instance stored once, byte for byte, on more than one node', { skip, timeout: 600_000 }, async () => {
  const results = await sendAll(batches, balancer!.port, cluster!.pki, cluster!.aet);
  for (const r of results) {
    assert.ok(r.ok, `${r.batch.aet} (${r.batch.tool}) failed:\n${r.output}${context()}`);
    assert.deepEqual(r.acknowledged, r.batch.instances.map((i) => i.uid), `${r.batch.aet}: not every instance acknowledged, in order:\n${r.output}`);
  }

  const source = new Map(batches.flatMap((b) => b.instances.map((i) => [i.uid, i.hash] as const)));
  const holder = new Map<string, string>(); // uid → node
  const nodeOfBatch = new Map<string, string>(); // calling AE → node
  const peers = new Map<string, { node: string; aet: string; tool: string | undefined }>(); // balancer source → association
  for (const node of cluster!.nodes) {
    const activity = nodeActivity(node);
    assert.deepEqual(activity.problems, [], context());
    // TLS ended at the node, not at the balancer: the node saw the client's certificate.
    for (const a of activity.associations) {
      assert.match(a.tls?.subject ?? '', /CN=cluster client/, `${node.name}: association ${a.aet} without the client certificate`);
      assert.match(a.tls?.protocol ?? '', /^TLSv1\.[23]$/);
      assert.ok(!nodeOfBatch.has(a.aet), `${a.aet} associated twice (${nodeOfBatch.get(a.aet)} and ${node.name})`);
      nodeOfBatch.set(a.aet, node.name);
      peers.set(a.peer, { node: node.name, aet: a.aet, tool: batches.find((b) => b.aet === a.aet)?.tool });
    }
    // The files on the node are exactly what its log says it stored, each the source's data set.
    const files = await filesOnNode(node);
    const logged = [...activity.stored.values()].flat();
    assert.deepEqual([...files.keys()].sort(), [...logged].sort(), `${node.name}: files and stored events differ`);
    for (const [uid, hash] of files) {
      assert.equal(hash, source.get(uid), `${node.name}: ${uid} differs from the source`);
      assert.ok(!holder.has(uid), `${uid} on ${holder.get(uid)} and ${node.name}`);
      holder.set(uid, node.name);
    }
    // A batch is one association: all of it on the node that accepted that association.
    for (const [aet, uids] of activity.stored) {
      const batch = batches.find((b) => b.aet === aet)!;
      assert.deepEqual([...uids].sort(), batch.instances.map((i) => i.uid).sort(), `${node.name}: batch ${aet} split or incomplete`);
    }
  }
  assert.deepEqual([...holder.keys()].sort(), [...source.keys()].sort(), 'every source instance stored exactly once');
  assert.deepEqual([...nodeOfBatch.keys()].sort(), batches.map((b) => b.aet).sort(), 'one association per batch, no other');
  const used = new Set(nodeOfBatch.values());
  assert.ok(used.size > 1, `all associations went to ${[...used].join()}${context()}`);

  // The balancer's view agrees: one logged connection per association, to the node that logged
  // that association (matched by the balancer's source port, the peer the node saw), none of
  // them ended by a node or by the balancer; health checks are not frontend connections.
  const connections = await balancer!.waitForConnections(batches.length);
  assert.equal(connections.length, batches.length, balancer!.output());
  for (const c of connections) {
    const a = peers.get(c.via);
    assert.ok(a !== undefined && a.node === c.server, `connection ${JSON.stringify(c)} is not an association of ${c.server}`);
    assert.equal(c.retries, '0', `connection ${JSON.stringify(c)} needed a retry`);
    // "--": closed normally by both sides. Our CLI exits as soon as the A-RELEASE-RP is in and
    // its close is sent, so the node's answering close_notify meets a closed socket: a reset
    // from the client side after all data ("CD"). Anything else (a node or the balancer ending
    // the connection, a timeout) is a failure.
    const allowed = a.tool === 'dicom-tls' ? ['--', 'CD'] : ['--'];
    assert.ok(allowed.includes(c.termination), `${a.aet} (${a.tool}) via ${c.server}: termination ${c.termination}\n${balancer!.output()}`);
  }
  const stats = await balancer!.stats();
  assert.ok(stats.every((s) => s.status === 'UP' && s.check === 'L7OK'), JSON.stringify(stats));
});

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

test('each node answers C-FIND as dcmqrscp does with the instances that node stored; C-GET and C-MOVE from it give them back byte for byte', { skip, timeout: 600_000 }, async () => {
  const { pki, aet, nodes } = cluster!;
  const sources = new Map(batches.flatMap((b) => b.instances.map((i) => [i.uid, i] as const)));
  const held = await Promise.all(nodes.map((n) => filesOnNode(n)));
  assert.ok(held.filter((h) => h.size > 0).length > 1, 'instances on more than one node');
  // The reference: one dcmqrscp storage area per node, loaded from the source files of what that node holds.
  const qr = await startDcmqrscp(join(tmp.dir, 'qr'), Object.fromEntries(nodes.map((n, i) => [n.name.toUpperCase(), [...held[i]!.keys()].map((u) => sources.get(u)!.path)])));
  try {
    const studies = [...new Set([...sources.values()].map((i) => i.study))].sort();
    const differences: string[] = [];
    let answered = 0;
    for (const [i, node] of nodes.entries()) {
      for (const q of questions(studies)) {
        const expected = await findscuValues({ port: qr.port, aet: node.name.toUpperCase() }, q, join(tmp.dir, 'find'));
        const actual = await findscuValues({ port: node.port, aet, tls: { key: pki.clientKey, cert: pki.client, ca: pki.ca } }, q, join(tmp.dir, 'find'));
        if (expected.length > 0) answered++;
        if (JSON.stringify(actual) !== JSON.stringify(expected)) differences.push(`${node.name} ${JSON.stringify(q)}: node ${JSON.stringify(actual)}, dcmqrscp ${JSON.stringify(expected)}`);
      }
      // Retrieve what the node holds, both ways.
      const mine = [...new Set([...held[i]!.keys()].map((u) => sources.get(u)!.study))];
      const got = await getStudies(node, mine, { pki, aet, out: join(tmp.dir, `get-${node.name}`) });
      assert.deepEqual(got, held[i], `${node.name}: C-GET differs from what it holds`);
      await moveStudies(node, mine, { pki, aet, dest: 'ARCHIVE' });
      assert.deepEqual(await hashesIn(archiveDir), held[i], `${node.name}: C-MOVE differs from what it holds`);
      rmSync(archiveDir, { recursive: true, force: true });
      mkdirSync(archiveDir);
      for (const [uid, hash] of held[i]!) assert.equal(hash, sources.get(uid)!.hash, `${node.name}: ${uid}`);
    }
    assert.deepEqual(differences, []);
    // Two empty answers agree too: most questions must have matched something somewhere.
    assert.ok(answered >= nodes.length * 4, `dcmqrscp matched something for only ${answered} questions`);
  } finally {
    await qr.stop();
  }
});
