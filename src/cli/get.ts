/**
 * `dicom-tls get HOST:PORT -k Key=value… --out DIR`: C-GET, the instances arriving as C-STORE
 * sub-operations on the same association (PS3.4 C.4.3) and written to DIR.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { clientOptions, oneOf, parse } from './args.js';
import { clientOptionsHelp, clientSettings } from './client-options.js';
import { fileError, usageError } from './errors.js';
import { connectClient, printPeerWarnings } from './connect.js';
import { retrieveOutcome, runRetrieve } from './move.js';
import { Output } from './io.js';
import { Interruption } from './interrupt.js';
import { identifier, levelFrom, parseQueryKeys, queryKeyHelp } from './query-keys.js';
import type { CommandModule } from './command.js';

export const help = `Usage: dicom-tls get HOST:PORT -k KEY=VALUE... [--out DIR] [options]

Retrieves the matching instances with C-GET: they arrive on the same association (SCP/SCU role
selection) and are written to DIR as Part 10 files (default: the current directory); one cut
short by the association's end leaves no file, one sent twice is one file (the later copy, counted
once). Exit code 16
when some sub-operations failed or were never performed (the peer's final response is Cancel, or
counts some remaining), or when the peer counts more completed than reached us.

Ctrl-C (SIGINT) or SIGTERM while the C-GET runs asks the peer to stop (C-CANCEL-RQ) and waits for
its final response, still writing the instances that arrive meanwhile; then prints the counts,
releases the association and exits 130 (unless that response says all was done). A second
Ctrl-C, or no final response within --timeout, aborts the association (A-ABORT; an instance cut
short leaves no file); exit 130 too.

Query:
${queryKeyHelp.replace(' | worklist', '')}
  --out DIR              where the files go (created if missing)
  --sop-class UID|NAME   a storage SOP class to receive (repeatable; e.g. CtImageStorage). Default:
                         the common image classes with their compressed syntaxes, then as many
                         other storage classes as fit in 128 presentation contexts
  --ts UID|NAME          a transfer syntax to accept them in (repeatable; e.g. JpegBaseline8Bit,
                         1.2.840.10008.1.2.4.90): uncompressed ones share a context, each
                         compressed one has its own. Default: explicit and implicit VR little
                         endian, and JPEG, JPEG 2000, JPEG-LS and RLE lossless as stored

${clientOptionsHelp}

Examples:
  dicom-tls get localhost:2762 --call DICOM-TLS --out ./retrieved --level SERIES -k SeriesInstanceUID=1.2.3.4 \\
      --ca dicom-tls-data/pki/ca.pem --cert dicom-tls-data/pki/client.pem --key dicom-tls-data/pki/client-key.pem
  dicom-tls get pacs:11112 --no-tls --call PACS --level STUDY -k StudyInstanceUID=1.2.3 --json`;

/** A UID, or a keyword of `table` (e.g. CtImageStorage, JpegBaseline8Bit). */
function uidOf(value: string, table: Readonly<Record<string, string>>, option: string): string {
  if (/^[0-9]+(\.[0-9]+)*$/.test(value)) return value;
  const hit = Object.entries(table).find(([k]) => k.toLowerCase() === value.toLowerCase());
  if (hit === undefined) throw usageError(`${option} "${value}" is neither a UID nor a known name (e.g. ${Object.keys(table)[0]})`);
  return hit[1];
}

/** The store's writes under way finished or cleaned up; at most a while (a guard, not expected to run out). */
async function storesSettled(store: { settled(): Promise<void> }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([store.settled(), new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)))]);
  clearTimeout(timer);
}

export const command: CommandModule = {
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, {
      ...clientOptions, query: { type: 'string', short: 'k', multiple: true }, level: { type: 'string' }, root: { type: 'string' }, out: { type: 'string' },
      'sop-class': { type: 'string', multiple: true }, ts: { type: 'string', multiple: true },
    });
    const out = new Output(io, values);
    const keys = await parseQueryKeys(values.query ?? []);
    if (keys.length === 0) throw usageError('get needs at least one -k key (e.g. -k StudyInstanceUID=…)');
    const level = levelFrom(values.level, keys, 'STUDY');
    const root = oneOf(values.root, 'root', ['patient', 'study'] as const) ?? 'study';
    const settings = await clientSettings(values, positionals[0], io);
    const dir = resolve(io.cwd, values.out ?? '.');
    try { mkdirSync(dir, { recursive: true }); } catch (e) { throw fileError(`cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e); }
    out.debug(`C-GET ${JSON.stringify(identifier(keys, level))} from ${settings.host}:${settings.port} into ${dir}`);
    const model = root === 'patient' ? 'PATIENT_ROOT' : 'STUDY_ROOT';
    const [{ getContexts }, { FileStore }] = await Promise.all([import('../services/scu/retrieve.js'), import('../store/file-store.js')]);
    const store = await FileStore.open({ root: dir, duplicates: 'overwrite' });
    const { StorageSopClass, TransferSyntax } = await import('../dictionary/uids.js');
    const sopClasses = values['sop-class']?.map((v) => uidOf(v, StorageSopClass, '--sop-class'));
    const syntaxes = values.ts?.map((v) => uidOf(v, TransferSyntax, '--ts'));
    let contexts;
    try {
      contexts = getContexts({ models: [model], ...(sopClasses === undefined ? {} : { storageSopClasses: sopClasses }), ...(syntaxes === undefined ? {} : { transferSyntaxes: syntaxes }) });
    } catch (e) {
      throw usageError((e as Error).message);
    }
    const { presentationContexts, roles } = contexts;
    out.debug(`proposing ${presentationContexts.length} presentation contexts for ${roles.length} storage SOP classes`);
    const unwatch = printPeerWarnings(out);
    const { client, dispose } = await connectClient(settings, { presentationContexts, roles });
    let received = 0;
    // A peer may send an instance twice: its file is written again (the later copy kept), and
    // what we say counts instances, not C-STOREs.
    const instances = new Set<string>();
    const refused = new Map<string, string>();
    const bar = out.progress('receiving', 0);
    const written = (): string => {
      const again = received - instances.size;
      return `${instances.size} instance${instances.size === 1 ? '' : 's'} written under ${dir}${again > 0 ? ` (${again} sent again: the later copy kept)` : ''}`;
    };
    // After a cancel the instances still arriving are stored as before, until the final response.
    const interruption = new Interruption(out, 'C-GET', () => void client.abort().catch(() => undefined));
    interruption.signal.addEventListener('abort', () => bar.done(), { once: true });
    let result;
    try {
      result = await runRetrieve(client, () => { interruption.dispose(); unwatch(); dispose(); }, bar, interruption, out, () =>
        client.get(model, identifier(keys, level), {
          store, signal: interruption.signal,
          onStored: (i) => { received++; instances.add(i.sopInstanceUid); bar.update(received); out.debug(`received ${i.sopInstanceUid} → ${i.path}`); },
          onFailed: (error, uid) => refused.set(uid, `we could not keep it: ${error.message}`),
          ...(settings.timeout !== undefined ? { timeout: settings.timeout } : {}),
        }),
      );
    } catch (e) {
      // The association ended (aborted, timed out, refused): what did arrive is kept; say so.
      // A sub-operation cut short removes its temporary file as it fails: wait for that, or the
      // exit leaves a .partial file in DIR.
      await storesSettled(store);
      if (!out.json && received > 0) out.line(`${written()} before the C-GET ended`);
      throw interruption.by === undefined ? e : interruption.error(e);
    }
    if (!out.json) out.line(written());
    // An instance the peer never sent us: most often no accepted context fits its SOP class and
    // transfer syntax (the peer's log says which).
    const notSent = `not sent to us: the peer found no accepted presentation context for its SOP class and transfer syntax among the ${presentationContexts.length - 1} proposed (see --sop-class, --ts), or failed on its side`;
    // The sub-operations the peer counts as done are C-STOREs to us: more than reached us is
    // not a complete retrieve, whatever the status says.
    const claimed = result.completed + result.warning;
    const missing = claimed > received ? `the peer counts ${claimed} sub-operations completed, but ${received} instance${received === 1 ? '' : 's'} reached us` : undefined;
    return retrieveOutcome(out, 'C-GET', result, { reasons: refused, otherwise: notSent, missing, interrupted: interruption.cancelled });
  },
};
