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
import { identifier, levelFrom, parseQueryKeys, queryKeyHelp } from './query-keys.js';
import type { CommandModule } from './command.js';

export const help = `Usage: dicom-tls get HOST:PORT -k KEY=VALUE... [--out DIR] [options]

Retrieves the matching instances with C-GET: they arrive on the same association (SCP/SCU role
selection) and are written to DIR as Part 10 files (default: the current directory). Exit code 16
when some sub-operations failed.

Query:
${queryKeyHelp.replace(' | worklist', '')}
  --out DIR              where the files go (created if missing)

${clientOptionsHelp}

Examples:
  dicom-tls get localhost:2762 --call DICOM-TLS --out ./retrieved --level SERIES -k SeriesInstanceUID=1.2.3.4 \\
      --ca dicom-tls-data/pki/ca.pem --cert dicom-tls-data/pki/client.pem --key dicom-tls-data/pki/client-key.pem
  dicom-tls get pacs:11112 --no-tls --call PACS --level STUDY -k StudyInstanceUID=1.2.3 --json`;

export const command: CommandModule = {
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...clientOptions, query: { type: 'string', short: 'k', multiple: true }, level: { type: 'string' }, root: { type: 'string' }, out: { type: 'string' } });
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
    const { presentationContexts, roles } = getContexts({ models: [model] });
    const unwatch = printPeerWarnings(out);
    const { client, dispose } = await connectClient(settings, { presentationContexts, roles });
    let received = 0;
    const bar = out.progress('receiving', 0);
    const result = await runRetrieve(client, () => { unwatch(); dispose(); }, bar, () =>
      client.get(model, identifier(keys, level), {
        store, onStored: (i) => { received++; bar.update(received); out.debug(`received ${i.sopInstanceUid} → ${i.path}`); },
        ...(settings.timeout !== undefined ? { timeout: settings.timeout } : {}),
      }),
    );
    if (!out.json) out.line(`${received} instance${received === 1 ? '' : 's'} written under ${dir}`);
    return retrieveOutcome(out, 'C-GET', result);
  },
};
