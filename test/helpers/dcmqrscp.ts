/**
 * DCMTK as the reference for C-FIND: `dcmqridx` indexes files into `dcmqrscp` storage areas (one
 * AE title per area, one process for all of them), and `findscu` asks the same question of
 * dcmqrscp and of the server under test. What each answer holds for one key is compared as a
 * sorted list, so a match missing, extra or doubled on either side shows.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, run } from './dcmtk.js';

export interface Dcmqrscp {
  readonly port: number;
  output(): string;
  stop(): Promise<void>;
}

/** dcmqrscp on a free port with one storage area per AE title, each indexed from `areas[aet]`. */
export async function startDcmqrscp(dir: string, areas: Readonly<Record<string, readonly string[]>>): Promise<Dcmqrscp> {
  const lines: string[] = [];
  for (const [aet, files] of Object.entries(areas)) {
    const db = join(dir, `qr-${aet}`);
    mkdirSync(db, { recursive: true });
    // dcmqridx records each file where it is; in batches, a command line has a length limit.
    for (let i = 0; i < files.length; i += 200) {
      const r = await run('dcmqridx', [db, ...files.slice(i, i + 200)]);
      if (r.code !== 0) throw new Error(`dcmqridx failed: ${r.output}`);
    }
    lines.push(`${aet} ${db} R (10000, 4096mb) ANY`);
  }
  const port = await freePort();
  const config = join(dir, 'dcmqrscp.cfg');
  writeFileSync(config, [`NetworkTCPPort = ${port}`, 'MaxPDUSize = 16384', 'MaxAssociations = 8',
    'HostTable BEGIN', 'HostTable END', 'VendorTable BEGIN', 'VendorTable END', 'AETable BEGIN', ...lines, 'AETable END', ''].join('\n'));
  const child = spawn('dcmqrscp', ['-c', config, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
  let exited = false;
  const closed = new Promise<void>((r) => child.once('close', () => { exited = true; r(); }));
  const stop = async (): Promise<void> => {
    if (!exited) child.kill('SIGTERM');
    await closed;
  };
  // Ready when an echo is answered (a bare connect would cost it an aborted association).
  for (let i = 0; i < 200 && !exited; i++) {
    if ((await run('echoscu', ['-aec', Object.keys(areas)[0] ?? 'ANY', '127.0.0.1', String(port)], 10_000)).code === 0) return { port, output: () => out, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`dcmqrscp did not answer on ${port}:\n${out}`);
}

export type Model = 'PATIENT_ROOT' | 'STUDY_ROOT';

/** One C-FIND: the model, the identifier's matching keys, and the keyword whose values are compared. */
export interface FindQuestion {
  readonly model: Model;
  readonly keys: Readonly<Record<string, string>>;
  readonly compare: string;
}

/** The tag of each keyword a question compares on, as dcmdump prints it. */
const TAGS: Record<string, string> = {
  PatientID: '0010,0020',
  StudyInstanceUID: '0020,000d',
  SeriesInstanceUID: '0020,000e',
  SOPInstanceUID: '0008,0018',
};

export interface FindPeer {
  readonly port: number;
  readonly aet: string;
  /** DICOM over TLS with this client identity and trust (findscu +tls), else plain. */
  readonly tls?: { readonly key: string; readonly cert: string; readonly ca: string };
}

/** findscu's answers to `q` from `peer`: the compared key's value in each response, sorted. */
export async function findscuValues(peer: FindPeer, q: FindQuestion, work: string): Promise<string[]> {
  const tag = TAGS[q.compare];
  if (tag === undefined) throw new Error(`no tag known for ${q.compare}`);
  mkdirSync(work, { recursive: true });
  const out = mkdtempSync(join(work, 'find-'));
  try {
    const args = [q.model === 'PATIENT_ROOT' ? '-P' : '-S', '-v', '-aec', peer.aet, '-X', '-od', out];
    if (peer.tls !== undefined) args.push('+tls', peer.tls.key, peer.tls.cert, '+cf', peer.tls.ca);
    for (const [k, v] of Object.entries(q.keys)) args.push('-k', `${k}=${v}`);
    if (!(q.compare in q.keys)) args.push('-k', q.compare);
    const r = await run('findscu', [...args, '127.0.0.1', String(peer.port)], 120_000);
    // findscu exits 0 after a failure status too: the final response must say Success.
    if (r.code !== 0 || !/Received Final Find Response \(Success\)/.test(r.output)) throw new Error(`findscu ${JSON.stringify(q)} to ${peer.aet}:${peer.port} failed:\n${r.output}`);
    const files = readdirSync(out).sort().map((f) => join(out, f));
    if (files.length === 0) return [];
    // One dcmdump for all responses: +P prints just the compared element of each file.
    const dump = await run('dcmdump', ['-q', '+P', tag, ...files], 120_000);
    const values = dump.output.split('\n').flatMap((l) => {
      const m = /\[(.*)\]/.exec(l);
      return l.trimStart().startsWith(`(${tag})`) && m !== null ? [m[1]!] : [];
    });
    if (values.length !== files.length) throw new Error(`${files.length} responses but ${values.length} values of ${q.compare}:\n${dump.output}`);
    return values.sort();
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
