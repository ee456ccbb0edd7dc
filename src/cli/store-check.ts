/**
 * `dicom-tls store check`: the consistency check of a server's index and blob store (src/store/
 * check.ts), for after a crash or by schedule, safe beside running `serve` nodes.
 */
import { resolve } from 'node:path';
import { commonOptions, parse } from './args.js';
import { ExitCode, usageError } from './errors.js';
import { Output } from './io.js';
import { serveSettings } from './serve-config.js';
import type { CommandModule } from './command.js';
import type { StoreCheckFinding, StoreCheckReport } from '../store/check.js';

export const help = `Usage: dicom-tls store check [--dry-run] [--config FILE] [--data DIR] [--index URL]
                             [--storage URL] [--grace S] [--json]

Compares the index of \`dicom-tls serve\` with its blob store and repairs what an interrupted
store (a crash, kill -9, a lost node) or a hand left behind; safe while serve nodes run (each
instance is settled holding the index's lock on it):
  pending         a copy on its way to the store when a node stopped: indexed from its pending
                  entry when complete, else removed (as serve does at start-up); a row whose
                  copy is not in place yet is removed only once its entry is older than --grace;
                  an entry whose copy is in place and named by its row is only cleared, unreported
  orphan-object   an object no index row or pending entry accounts for, older than --grace:
                  removed
  missing-object  an index row whose object is gone: the row is removed (the sender may store
                  the instance again)
  size-mismatch   an object whose size differs from its row: reported only
  foreign-object  an object the store never writes (not <uid>.dcm or <uid>-<token>.dcm): reported only
  incomplete      a temporary file or unfinished multipart upload older than --grace: removed

  --dry-run       change nothing; report what a repair would do
  --config FILE   serve's config file: its data directory, "index" and "storage"
  --data DIR      serve's data directory (default ./dicom-tls-data)
  --index URL     the index: postgres://… (PG* variables as serve reads them), or an embedded
                  index file (default: the config's "index", else DIR/index.sqlite)
  --storage URL   the blob store: s3://BUCKET/PREFIX, file:///DIR or a directory (default
                  DIR/files); S3 endpoint, region and path style from the config's "storage" or
                  DICOM_TLS_STORAGE__ENDPOINT …, credentials from AWS_ACCESS_KEY_ID … or the
                  AWS SDK's default chain
  --grace S       objects and incomplete writes younger than S seconds may belong to a store
                  still running: left alone (default 900; 0: none, every object is checked)
  --json          the report as one JSON document

Exit codes: 0 the store is consistent; 16 findings (repaired unless --dry-run; size mismatches
and foreign objects are never repaired); 18 the index or the store could not be read.

Examples:
  dicom-tls store check --data /var/lib/dicom-tls --dry-run
  dicom-tls store check --config /etc/dicom-tls/serve.json --json`;

const describe: Record<StoreCheckFinding['kind'], string> = {
  pending: 'pending entry',
  'orphan-object': 'object without an index row',
  'foreign-object': 'object the store does not write',
  'missing-object': 'index row without its object',
  'size-mismatch': 'object size differs from its row',
  incomplete: 'incomplete write',
};

function line(f: StoreCheckFinding, dryRun: boolean): string {
  const verb = f.action === 'none' ? 'left as is' : dryRun ? `would be ${f.action}` : f.action;
  const detail = f.kind === 'size-mismatch' ? ` (index ${f.indexed} bytes, stored ${f.stored})` : '';
  return `${describe[f.kind]}: ${f.key}${detail}: ${verb}`;
}

export function formatReport(r: StoreCheckReport): string[] {
  const out = [`checked ${r.counts.objects} objects in ${r.storage}, ${r.counts.rows} index rows (${r.index}), ${r.counts.pending} pending entries, ${r.counts.incomplete} incomplete writes`];
  for (const f of r.findings) out.push(`  ${line(f, r.dryRun)}`);
  out.push(r.findings.length === 0 ? 'consistent: nothing to repair' : `${r.findings.length} finding${r.findings.length === 1 ? '' : 's'}${r.dryRun ? ' (dry run: nothing changed)' : ''}`);
  return out;
}

export const command: CommandModule = {
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, {
      ...commonOptions,
      'dry-run': { type: 'boolean' }, config: { type: 'string' }, data: { type: 'string' },
      index: { type: 'string' }, storage: { type: 'string' }, grace: { type: 'string' },
    });
    const out = new Output(io, values);
    if (positionals.length > 0) throw usageError(`store check takes no arguments, got "${positionals.join(' ')}"`);
    const grace = values.grace === undefined ? 900 : Number(values.grace);
    if (!/^\d+$/.test(values.grace ?? '900')) throw usageError(`--grace must be a whole number of seconds, got "${values.grace}"`);
    // --index: a PostgreSQL URL, or the path of an embedded index (SQLite) other than DATA/index.sqlite.
    const postgres = values.index !== undefined && /^postgres(ql)?:\/\//.test(values.index);
    const s = serveSettings({ config: values.config, data: values.data, storage: values.storage, ...(postgres ? { index: values.index } : {}) }, io.cwd, io.env);
    const { openServeStores } = await import('./serve-stores.js');
    const { checkStore } = await import('../store/check.js');
    const stores = await openServeStores(s, values.index === undefined || postgres ? undefined : resolve(io.cwd, values.index));
    let report: StoreCheckReport;
    try {
      report = await checkStore({ index: stores.index, blobs: stores.blobs, dryRun: values['dry-run'] === true, graceSeconds: grace });
    } finally {
      await stores.close();
    }
    if (out.json) out.document(report);
    else for (const l of formatReport(report)) out.line(l);
    return report.findings.length === 0 ? ExitCode.Ok : ExitCode.PartialFailure;
  },
};
