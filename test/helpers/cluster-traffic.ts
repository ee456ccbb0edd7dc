/**
 * Traffic for the cluster tests: source instances split into batches, each batch sent on its own
 * association through the balancer, half by DCMTK's `storescu +tls`, half by our CLI's
 * `dicom-tls store`, all at once; and what each node stored, read back from its log and its files.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './dcmtk.js';
import { findscuValues } from './dcmqrscp.js';
import { runCli } from './cli.js';
import { readPart10Header } from '../../src/dataset/part10.js';
import { spec, writeBigInstance, writeInstance, datasetHash } from './services.js';
import type { ServePki } from './serve-pki.js';
import type { ServeNode } from './serve-cluster.js';

export interface SourceInstance {
  readonly uid: string;
  readonly study: string;
  readonly path: string;
  /** SHA-256 of the data set (after the File Meta Information): what a node must keep byte for byte. */
  readonly hash: string;
}

export interface Batch {
  /** The calling AE title of the batch's association: how the nodes' logs name it. */
  readonly aet: string;
  readonly tool: 'storescu' | 'dicom-tls';
  readonly instances: readonly SourceInstance[];
}

/**
 * `senders` batches of `perBatch` small instances each, in three studies; the first instance of
 * every batch is a multi-frame one of `bigBytes` (so a balanced association also streams an
 * instance larger than any buffer on the way). Even batches go by storescu, odd ones by our CLI.
 */
export async function makeBatches(dir: string, o: { senders: number; perBatch: number; bigBytes: number; first?: number }): Promise<Batch[]> {
  const batches: Batch[] = [];
  let n = o.first ?? 1;
  for (let b = 0; b < o.senders; b++) {
    const instances: SourceInstance[] = [];
    for (let k = 0; k < o.perBatch; k++, n++) {
      const s = spec(n);
      const f = k === 0 ? await writeBigInstance(dir, s, o.bigBytes) : await writeInstance(dir, s, { pixels: 2048 + n * 16 });
      instances.push({ uid: s.SOPInstanceUID, study: s.StudyInstanceUID, path: f.path, hash: f.hash });
    }
    const tool = b % 2 === 0 ? 'storescu' : 'dicom-tls';
    batches.push({ aet: `${tool === 'storescu' ? 'SCU' : 'CLI'}${b + 1}`, tool, instances });
  }
  return batches;
}

export interface BatchResult {
  readonly batch: Batch;
  /** The sender exited 0 (every instance sent and answered Success). */
  readonly ok: boolean;
  /** The SOP Instance UIDs the sender saw answered with Success. */
  readonly acknowledged: readonly string[];
  /** The sender's output, for failure messages. */
  readonly output: string;
}

/** storescu -v: each "Received Store Response (Success)" answers the file of the "Sending file:" before it. */
function storescuAcknowledged(output: string, batch: Batch): string[] {
  const byPath = new Map(batch.instances.map((i) => [i.path, i.uid]));
  const out: string[] = [];
  let current: string | undefined;
  for (const line of output.split('\n')) {
    const sending = /Sending file: (.+)$/.exec(line);
    if (sending !== null) current = byPath.get(sending[1]!.trim());
    else if (line.includes('Received Store Response (Success)') && current !== undefined) {
      out.push(current);
      current = undefined;
    }
  }
  return out;
}

/** Sends one batch on one association to 127.0.0.1:`port`. */
export async function sendBatch(batch: Batch, port: number, pki: ServePki, calledAe: string): Promise<BatchResult> {
  const files = batch.instances.map((i) => i.path);
  if (batch.tool === 'storescu') {
    const r = await run('storescu', ['+tls', pki.clientKey, pki.client, '+cf', pki.ca, '-aet', batch.aet, '-aec', calledAe, '-v',
      '127.0.0.1', String(port), ...files], 300_000);
    return { batch, ok: r.code === 0, acknowledged: storescuAcknowledged(r.output, batch), output: r.output };
  }
  const r = await runCli(['store', `127.0.0.1:${port}`, ...files, '--aet', batch.aet, '--call', calledAe, ...cliTls(pki), '--json'], { killAfter: 300_000 });
  let acknowledged: string[] = [];
  try {
    const doc = JSON.parse(r.stdout) as { results: { sopInstanceUid?: string; outcome: string }[] };
    acknowledged = doc.results.filter((x) => x.outcome === 'sent' && x.sopInstanceUid !== undefined).map((x) => x.sopInstanceUid!);
  } catch {
    // not a summary: the output says why
  }
  return { batch, ok: r.code === 0, acknowledged, output: `${r.stdout}${r.stderr}` };
}

/** Every batch at once, each on its own association. */
export function sendAll(batches: readonly Batch[], port: number, pki: ServePki, calledAe: string): Promise<BatchResult[]> {
  return Promise.all(batches.map((b) => sendBatch(b, port, pki, calledAe)));
}

/**
 * The Part 10 files under `dir` (recursively, names ending in `suffix`): SOP Instance UID from
 * each file's meta information → data set hash. A UID found twice is an error.
 */
export async function hashesIn(dir: string, suffix = ''): Promise<Map<string, string>> {
  const names = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && e.name.endsWith(suffix)).map((e) => join(e.parentPath, e.name)).sort();
  const out = new Map<string, string>();
  for (const path of names) {
    const uid = (await readPart10Header(path)).meta.MediaStorageSOPInstanceUID;
    if (typeof uid !== 'string') throw new Error(`${path}: no Media Storage SOP Instance UID`);
    if (out.has(uid)) throw new Error(`${uid} twice under ${dir}`);
    out.set(uid, await datasetHash(path));
  }
  return out;
}

/** What one node holds in its own data directory (the embedded store): SOP Instance UID → data set hash. */
export function filesOnNode(node: ServeNode): Promise<Map<string, string>> {
  return hashesIn(join(node.data, 'files'), '.dcm');
}

/** The TLS options of our CLI with the cluster's client identity. */
export function cliTls(pki: ServePki): string[] {
  return ['--ca', pki.ca, '--cert', pki.client, '--key', pki.clientKey];
}

/** C-GET of whole studies (one request, a UID list) from `node` with our CLI into `out`: what arrived, SOP Instance UID → data set hash. */
export async function getStudies(node: { name?: string; port: number }, studies: readonly string[], o: { pki: ServePki; aet: string; out: string }): Promise<Map<string, string>> {
  if (studies.length > 0) {
    const r = await runCli(['get', `127.0.0.1:${node.port}`, '--call', o.aet, '--aet', 'GETTER', ...cliTls(o.pki), '--level', 'STUDY',
      '-k', `StudyInstanceUID=${studies.join('\\')}`, '--out', o.out], { killAfter: 300_000 });
    if (r.code !== 0) throw new Error(`get ${studies.join(', ')} from ${node.name ?? 'the node'} (port ${node.port}): exit ${r.code}\n${r.stdout}${r.stderr}`);
  }
  return hashesIn(o.out);
}

/**
 * What a node shows and gives back: C-FIND (each study's series, then each series' instances,
 * findscu +tls) and C-GET of every study showing something. Throws unless both name the same
 * instances; returns SOP Instance UID → data set hash of what C-GET gave. Storage-agnostic: it
 * holds for a node's own directory as for a shared store.
 */
export async function visibleOn(node: { name: string; port: number }, studies: readonly string[], o: { pki: ServePki; aet: string; work: string }): Promise<Map<string, string>> {
  const peer = { port: node.port, aet: o.aet, tls: { key: o.pki.clientKey, cert: o.pki.client, ca: o.pki.ca } };
  const find = join(o.work, 'find');
  const visible: string[] = [];
  const shown: string[] = [];
  for (const study of studies) {
    const series = await findscuValues(peer, { model: 'STUDY_ROOT', keys: { QueryRetrieveLevel: 'SERIES', StudyInstanceUID: study }, compare: 'SeriesInstanceUID' }, find);
    if (series.length > 0) shown.push(study);
    for (const s of series) {
      visible.push(...await findscuValues(peer, { model: 'STUDY_ROOT', keys: { QueryRetrieveLevel: 'IMAGE', StudyInstanceUID: study, SeriesInstanceUID: s }, compare: 'SOPInstanceUID' }, find));
    }
  }
  const got = await getStudies(node, shown, { pki: o.pki, aet: o.aet, out: join(o.work, `get-${node.name}`) });
  const a = [...visible].sort();
  const b = [...got.keys()].sort();
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${node.name}: C-FIND shows ${JSON.stringify(a)} but C-GET gives ${JSON.stringify(b)}`);
  return got;
}

/** C-MOVE of whole studies (one request, a UID list) from `node` to the move destination `dest` (configured on the node) with our CLI. */
export async function moveStudies(node: { port: number }, studies: readonly string[], o: { pki: ServePki; aet: string; dest: string }): Promise<void> {
  if (studies.length === 0) return;
  const r = await runCli(['move', `127.0.0.1:${node.port}`, '--call', o.aet, '--aet', 'MOVER', ...cliTls(o.pki), '--dest', o.dest,
    '--level', 'STUDY', '-k', `StudyInstanceUID=${studies.join('\\')}`], { killAfter: 300_000 });
  if (r.code !== 0) throw new Error(`move ${studies.join(', ')} from ${node.port} to ${o.dest}: exit ${r.code}\n${r.stdout}${r.stderr}`);
}

/** The node's log, summarised: associations by calling AE, stored instances by calling AE, and anything that went wrong. */
export interface NodeAssociation {
  readonly aet: string;
  /** The address:port the node saw the association come from (behind a balancer: the balancer's). */
  readonly peer: string;
  readonly tls: { protocol?: string; subject?: string | null } | null;
}

export function nodeActivity(node: ServeNode): { associations: NodeAssociation[]; stored: Map<string, string[]>; problems: string[] } {
  const events = node.events();
  const associations = events.filter((e) => e.event === 'association')
    .map((e) => ({ aet: String(e['callingAeTitle']), peer: String(e['peer']), tls: e['tls'] as NodeAssociation['tls'] }));
  const stored = new Map<string, string[]>();
  for (const e of events.filter((x) => x.event === 'stored')) {
    const aet = String(e['callingAeTitle']);
    stored.set(aet, [...(stored.get(aet) ?? []), String(e['sopInstanceUid'])]);
  }
  const bad = new Set(['handshake-failed', 'association-rejected', 'store-failed', 'store-duplicate']);
  const problems = events.filter((e) => bad.has(e.event) || (e.event === 'association-end' && e['error'] !== null) || e.level === 'error' || e.level === 'fatal')
    .map((e) => `${node.name}: ${e.event}: ${e.msg}`);
  return { associations, stored, problems };
}

/**
 * Waits (a hang guard, not a timing) until each node's log, as read so far through its pipe, has
 * an `association-end` line for every `association` line: the node writes its lines before it
 * answers, but this process may read a node's pipe after the answer, or after a sender's exit, has
 * arrived. An association's end is its last line, so its stored lines are in by then.
 */
export async function logsSettled(nodes: readonly ServeNode[], guardMs = 120_000): Promise<void> {
  const end = Date.now() + guardMs;
  const open = (): string[] => nodes.flatMap((n) => {
    const events = n.events();
    const count = (name: string): number => events.filter((e) => e.event === name).length;
    return count('association') === count('association-end') ? [] : [`${n.name}: ${count('association')} associations, ${count('association-end')} ended`];
  });
  for (let left = open(); left.length > 0; left = open()) {
    if (Date.now() > end) throw new Error(`the nodes' logs never showed every association ended: ${left.join('; ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits (a hang guard) until some node's log shows an association from `aet`; that node. */
export async function nodeWithAssociation(nodes: readonly ServeNode[], aet: string, guardMs = 60_000): Promise<ServeNode | undefined> {
  for (const end = Date.now() + guardMs; Date.now() < end;) {
    const node = nodes.find((n) => nodeActivity(n).associations.some((a) => a.aet === aet));
    if (node !== undefined) return node;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}
