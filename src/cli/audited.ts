/**
 * `--audit URL` for the long-running client commands (store, find, move, get). Light on purpose:
 * the audit trail's modules load only when `--audit` is given.
 */
import { join, resolve } from 'node:path';
import { tlsOptions } from './args.js';
import type { CommandModule } from './command.js';
import { usageError } from './errors.js';
import type { AuditSettings } from './audit-config.js';
import type { Log } from './audit.js';
import { contextOptionsFrom, type TlsCliValues } from './tls-options.js';
/** The help block `audited` adds to a long-running client command. */
export const clientAuditHelp = `Audit (IHE ATNA, docs/audit.md):
  --audit URL            record this run as DICOM audit messages (Application Start/Stop, its
                         associations, refused TLS handshakes, what it sends, receives or asks
                         for) to syslog+tls://host:6514, syslog+udp://host:514 or file:///path
                         (TLS uses this command's --cert/--key/--ca)
  --audit-queue DIR      where messages wait while the repository is unreachable (default
                         $XDG_STATE_HOME/dicom-tls/audit-queue, else ~/.local/state/…); the next
                         run with the same queue sends them first
`;

/**
 * A long-running client command with `--audit URL` (and `--audit-queue DIR`): the run is wrapped
 * in an audit trail (Application Start first, Application Stop last; in between what the trail
 * sees of the run: associations, refused handshakes, instances sent or received, queries). The two options are taken out before the command parses its own.
 */
export function audited(name: string, module: CommandModule): CommandModule {
  return {
    help: module.help.replace(/^Output:/m, `${clientAuditHelp}Output:`),
    async run(argv, io) {
      const rest: string[] = [];
      let url: string | undefined;
      let queue: string | undefined;
      for (let i = 0; i < argv.length; i++) {
        const a = argv[i]!;
        const m = /^--(audit|audit-queue)(?:=(.*))?$/.exec(a);
        if (m === null) { rest.push(a); continue; }
        const value = m[2] ?? argv[++i];
        if (value === undefined || value === '') throw usageError(`--${m[1]} needs a value`);
        if (m[1] === 'audit') url = value; else queue = value;
      }
      if (url === undefined) {
        if (queue !== undefined) throw usageError('--audit-queue needs --audit URL');
        return module.run(rest, io);
      }
      const { parseAuditUrl } = await import('../audit/sender.js');
      try { parseAuditUrl(url); } catch (e) { throw usageError(`--audit: ${(e as Error).message}`); }
      // The command's own TLS identity and trust, read leniently (its other options are its own).
      const { values } = process.getBuiltinModule('node:util').parseArgs({ args: rest, options: { ...tlsOptions, aet: { type: 'string' } }, strict: false, allowPositionals: true });
      const v = values as TlsCliValues & { aet?: string };
      const tls = url.startsWith('syslog+tls:') ? await contextOptionsFrom({ ...v, 'no-tls': undefined }, 'client', io) : undefined;
      const stateHome = io.env['XDG_STATE_HOME'] ?? join(process.getBuiltinModule('node:os').homedir(), '.local', 'state');
      const settings: AuditSettings = {
        url, queue: resolve(io.cwd, queue ?? join(stateHome, 'dicom-tls', 'audit-queue')), maxQueued: 10000,
        auditSourceId: undefined, enterpriseSiteId: undefined, tls: { cert: undefined, key: undefined, ca: undefined },
      };
      const log: Log = (_event, text) => { io.stderr.write(`dicom-tls ${name}: ${text}\n`); };
      const { startAudit } = await import('./audit.js');
      const audit = await startAudit(settings, { name: `dicom-tls ${name}[${process.pid}]`, ...(typeof v.aet === 'string' ? { aeTitles: [v.aet] } : {}) }, tls, log);
      try {
        return await module.run(rest, io);
      } finally {
        await audit.stop();
      }
    },
  };
}
