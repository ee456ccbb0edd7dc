/**
 * `dicom-tls serve`: the main job. A Storage SCP over DICOM TLS with embedded defaults: a
 * development PKI made on first run, files + SQLite index in the data directory, a log of every
 * association and failed handshake (from the library's diagnostics channels), and a clean stop on
 * SIGINT/SIGTERM that lets instances in flight finish.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import diagnosticsChannel from 'node:diagnostics_channel';
import { commonOptions, parse, passwordOptions, tlsOptions } from './args.js';
import { ExitCode, fileError, usageError } from './errors.js';
import { Output, type Io } from './io.js';
import { bindPorts, connectHost, hostPort, portError } from './port-check.js';
import { logCertificates } from './serve-certificates.js';
import { help } from './serve-help.js';
import { gracefulStop, holdReloads, stopRequested } from './serve-signals.js';
import { warmUp } from './serve-warm-up.js';
import { startMetrics, startOperations } from './serve-ops.js';
import { createServeLog, type ServeLog } from './serve-log.js';
import { checkIdentity, serveSettings, type ServeSettings } from './serve-config.js';
import { buildContext, contextOptionsFrom } from './tls-options.js';
import { channelNames } from '../diagnostics.js';
import type { CommandModule } from './command.js';
import type { Association } from '../ae/association.js';
import { presentationContextResultNames } from '../acse/presentation-context.js';
import type { StorageServer } from '../services/scp/storage-server.js';
import type { StoredInstance } from '../store/file-store.js';
import { passwordFileVerifier } from '../ae/user-credentials.js';

const serveOptions = {
  ...commonOptions, ...passwordOptions,
  key: tlsOptions.key, cert: tlsOptions.cert, pkcs12: tlsOptions.pkcs12, ca: tlsOptions.ca, crl: tlsOptions.crl,
  'crl-check': tlsOptions['crl-check'], profile: tlsOptions.profile, 'peer-cert': tlsOptions['peer-cert'],
  groups: tlsOptions.groups, 'require-hybrid-group': tlsOptions['require-hybrid-group'],
  port: { type: 'string' }, 'plain-port': { type: 'string' }, host: { type: 'string' }, data: { type: 'string' },
  config: { type: 'string' }, aet: { type: 'string' }, 'max-associations': { type: 'string' }, 'async-window': { type: 'string' },
  'session-lifetime': { type: 'string' },
  users: { type: 'string' }, 'require-user': { type: 'boolean' },
  audit: { type: 'string' }, duplicates: { type: 'string' }, index: { type: 'string' }, 'accept-unknown': { type: 'boolean' }, storage: { type: 'string' },
  'stop-timeout': { type: 'string' }, 'warm-up': { type: 'string' }, 'http-port': { type: 'string' }, 'http-host': { type: 'string' },
  'dev-pki': { type: 'boolean' }, 'watch-certs': { type: 'boolean' }, 'expiry-warning-days': { type: 'string' },
  'log-level': { type: 'string' }, 'log-format': { type: 'string' }, 'log-phi': { type: 'boolean' },
} as const;

/** First run: the development PKI in DATA/pki, unless an identity was given. */
async function ensurePki(s: ServeSettings, log: ServeLog): Promise<{ ca: string; client: string; clientKey: string } | undefined> {
  if (s.tls.cert !== undefined || s.tls.pkcs12 !== undefined) return undefined;
  const dir = join(s.data, 'pki');
  const files = { ca: join(dir, 'ca.pem'), client: join(dir, 'client.pem'), clientKey: join(dir, 'client-key.pem') };
  s.tls.cert = join(dir, 'server.pem');
  s.tls.key = join(dir, 'server-key.pem');
  s.tls.ca ??= [files.ca];
  if (!existsSync(files.ca)) {
    const { createDevelopmentPki } = await import('./pki.js');
    const name = hostname();
    createDevelopmentPki(dir, {
      hosts: ['localhost', ...(name && name !== 'localhost' ? [name] : [])], ips: ['127.0.0.1', '::1'],
      days: 825, keyType: 'ec', encrypt: false, pkcs12: false, password: undefined, force: false,
    }, await import('../transport/tls/pki.js'));
    log('pki-created', `created a development PKI in ${dir} (CA: ${files.ca}); give the CA and a client certificate to each peer`, { directory: dir, ca: files.ca });
  }
  return files;
}

/** A stored instance's fields: where it went and whose it is (the patient fields are redacted unless --log-phi). */
function storedFields(i: StoredInstance, a: Association): Record<string, unknown> {
  const r = i.attributes;
  return {
    sopInstanceUid: i.sopInstanceUid, sopClassUid: i.sopClassUid, studyInstanceUid: i.studyInstanceUid, seriesInstanceUid: i.seriesInstanceUid,
    path: i.path, size: i.size, callingAeTitle: a.callingAeTitle,
    patientId: r.PatientID, patientName: r.PatientName, patientBirthDate: r.PatientBirthDate, accessionNumber: r.AccessionNumber, modality: r.Modality,
  };
}

function peerOf(a: Association): string {
  return `${a.remoteAddress ?? '?'}:${a.remotePort ?? '?'}`;
}

/** Log lines from the library's diagnostics channels: failed handshakes and rejected associations. */
function subscribe(log: ServeLog): () => void {
  const onServer = (m: unknown): void => {
    const e = m as { kind?: string; peer?: { address?: string; port?: number }; depth?: number; errorName?: string; errorString?: string; certificateString?: string; alert?: { description: string; direction: string }; error?: { message: string; code: string }; why?: string; callingAeTitle?: string; calledAeTitle?: string; remoteAddress?: string };
    if (e.kind === 'tls-handshake-failed') {
      const subject = e.certificateString !== undefined ? /^Subject Name: (.*)$/m.exec(e.certificateString)?.[1] : undefined;
      const cert = subject !== undefined ? `, certificate at depth ${e.depth ?? '?'}: ${subject}` : '';
      const reason = e.errorName !== undefined ? `${e.errorString} (${e.errorName})` : e.error?.message ?? 'unknown';
      log('handshake-failed', `TLS handshake from ${e.peer?.address ?? '?'}:${e.peer?.port ?? '?'} failed${cert}: ${reason}`,
        { peer: e.peer, depth: e.depth, errorName: e.errorName, errorString: e.errorString, certificateString: e.certificateString, alert: e.alert, code: e.error?.code }, 'warn');
    } else if (e.kind === 'store-reconciled') {
      // What a crash left between a file and its index row, settled at start-up (one line per instance).
      const r = m as { action: string; path: string; sopInstanceUid: string };
      const what = r.action === 'indexed' ? 'indexed (its file was complete; the sender was never answered)'
        : r.action === 'removed' ? 'an unindexed second copy removed'
          : r.action === 'discarded' ? 'a copy cut short removed (never acknowledged); it can be sent again'
            : 'its row removed (the file never arrived); it can be sent again';
      log('store-reconciled', `after an interrupted run: ${r.sopInstanceUid} ${what}: ${r.path}`, { action: r.action, sopInstanceUid: r.sopInstanceUid, path: r.path }, 'warn');
    } else if (e.kind === 'reindex-started' || e.kind === 'reindex-progress' || e.kind === 'reindex-done') {
      const r = m as { total: number; done?: number; failed?: number; fromVersion?: number; toVersion?: number };
      const text = e.kind === 'reindex-started'
        ? `the index was written by an older version (content ${r.fromVersion} < ${r.toVersion}): re-reading ${r.total} stored instances`
        : e.kind === 'reindex-progress'
          ? `re-indexing: ${r.done} of ${r.total} instances${r.failed ? `, ${r.failed} unreadable` : ''}`
          : `re-indexed ${r.total - (r.failed ?? 0)} of ${r.total} instances${r.failed ? `; ${r.failed} files could not be read and keep their old index rows` : ''}`;
      log(e.kind, text, { total: r.total, done: r.done ?? 0, failed: r.failed ?? 0 }, e.kind === 'reindex-done' && (r.failed ?? 0) > 0 ? 'warn' : 'info');
    } else if (e.kind === 'index-migrated') {
      const r = m as { database: string; fromVersion: number; toVersion: number };
      const name = r.database === 'postgres' ? 'PostgreSQL' : 'SQLite';
      log('index-migrated', r.fromVersion === 0 ? `the ${name} index was created (schema ${r.toVersion})` : `the ${name} index was migrated from schema ${r.fromVersion} to ${r.toVersion}`, { database: r.database, fromVersion: r.fromVersion, toVersion: r.toVersion });
    } else if (e.kind === 'index-connection-error') {
      log('index-connection-error', `a PostgreSQL index connection was lost: ${e.error?.message ?? 'unknown'} (another is opened when needed)`, { code: e.error?.code }, 'warn');
    } else if (e.kind === 'retrieve-source-failed') {
      // The index names an instance whose stored copy cannot be read: `store check` finds why.
      const r = m as { retrieve: string; sopInstanceUid: string; key: string; path?: string };
      log('retrieve-source-failed', `a ${r.retrieve} sub-operation failed: the stored copy of ${r.sopInstanceUid} could not be read (${r.path ?? r.key}): ${e.error?.message ?? 'unknown'}`,
        { retrieve: r.retrieve, sopInstanceUid: r.sopInstanceUid, key: r.key, path: r.path, code: e.error?.code }, 'warn');
    } else if (e.kind === 'connection-shed') {
      // More connections waited for a handshake or an A-ASSOCIATE-RQ than limits.maxPendingConnections.
      const r = m as { stage: string; error: { message: string; code: string; limit: number } };
      // One whose association was over lost nothing (a peer keeping its socket open after our A-ABORT).
      log('connection-shed', `connection from ${e.peer?.address ?? '?'}:${e.peer?.port ?? '?'} ${r.error.message}`,
        { peer: e.peer, stage: r.stage, limit: r.error.limit, code: r.error.code }, r.stage === 'closing' ? 'debug' : 'warn');
    } else if (e.kind === 'association-rejected') {
      log('association-rejected', `association from ${e.callingAeTitle} (${e.remoteAddress ?? '?'}) to ${e.calledAeTitle} rejected: ${e.why}`, { callingAeTitle: e.callingAeTitle, calledAeTitle: e.calledAeTitle, remoteAddress: e.remoteAddress, why: e.why });
    }
  };
  // An association its last-resort guard aborted: a defect worth a log line, the server goes on.
  const onAssociationEvent = (m: unknown): void => {
    const e = m as { kind?: string; association?: { transport?: { remoteAddress?: string }; remoteAddress?: string; callingAeTitle?: string }; detail?: { stage?: string; error?: Error & { code?: string; heldBytes?: number; waiting?: number; stalledMs?: number; waitedMs?: number; limit?: number } } };
    if (e.kind === 'dataset-stalled') {
      // A peer that stopped in the middle of a data set while others waited for the budget.
      const error = e.detail?.error;
      log('dataset-stalled', `association from ${e.association?.callingAeTitle ?? '?'} (${e.association?.remoteAddress ?? '?'}) aborted: ${error?.message ?? ''}`,
        { callingAeTitle: e.association?.callingAeTitle ?? null, remoteAddress: e.association?.remoteAddress ?? null, code: error?.code ?? null, heldBytes: error?.heldBytes ?? null, waiting: error?.waiting ?? null, stalledMs: error?.stalledMs ?? null }, 'warn');
      return;
    }
    if (e.kind === 'handler-stalled') {
      // Pipelined data sets filled the association's budget behind a handler that took none of them.
      const error = e.detail?.error;
      log('handler-stalled', `association from ${e.association?.callingAeTitle ?? '?'} (${e.association?.remoteAddress ?? '?'}) aborted: ${error?.message ?? ''}`,
        { callingAeTitle: e.association?.callingAeTitle ?? null, remoteAddress: e.association?.remoteAddress ?? null, code: error?.code ?? null, heldBytes: error?.heldBytes ?? null, limit: error?.limit ?? null, waitedMs: error?.waitedMs ?? null }, 'warn');
      return;
    }
    if (e.kind === 'request-refused') {
      // A request naming a SOP class its context was not negotiated for (ae/context-match.ts).
      const d = e.detail as unknown as { command: string; messageId: number; presentationContextId: number; status: number; sopClassUid: string; abstractSyntax: string };
      log('request-refused', `${d.command} (message ID ${d.messageId}) from ${e.association?.callingAeTitle ?? '?'} (${e.association?.remoteAddress ?? '?'}) refused ${d.status.toString(16).padStart(4, '0').toUpperCase()}H: SOP class ${d.sopClassUid} on presentation context ${d.presentationContextId} (${d.abstractSyntax})`,
        { callingAeTitle: e.association?.callingAeTitle ?? null, remoteAddress: e.association?.remoteAddress ?? null, command: d.command, messageId: d.messageId, presentationContextId: d.presentationContextId, status: d.status, sopClassUid: d.sopClassUid, abstractSyntax: d.abstractSyntax }, 'warn');
      return;
    }
    if (e.kind === 'request-too-large') {
      // A query identifier over limits.maxIdentifierLength: answered C000, the association goes on.
      const d = e.detail as unknown as { command: string; messageId: number; status: number; length: number; limit: number };
      log('request-too-large', `${d.command} (message ID ${d.messageId}) from ${e.association?.callingAeTitle ?? '?'} (${e.association?.remoteAddress ?? '?'}) refused ${d.status.toString(16).padStart(4, '0').toUpperCase()}H: its data set of ${d.length} bytes is over the limit of ${d.limit}`,
        { callingAeTitle: e.association?.callingAeTitle ?? null, remoteAddress: e.association?.remoteAddress ?? null, command: d.command, messageId: d.messageId, status: d.status, length: d.length, limit: d.limit }, 'warn');
      return;
    }
    if (e.kind !== 'failed') return;
    const cause = e.detail?.error?.cause;
    log('association-failed', `association from ${e.association?.transport?.remoteAddress ?? '?'} aborted after an internal failure (${e.detail?.stage ?? '?'}): ${e.detail?.error?.message ?? ''}`,
      { stage: e.detail?.stage ?? null, error: e.detail?.error?.message ?? null, cause: cause instanceof Error ? cause.stack ?? cause.message : String(cause) });
  };
  diagnosticsChannel.subscribe(channelNames.server, onServer);
  diagnosticsChannel.subscribe(channelNames.association, onAssociationEvent);
  return () => {
    diagnosticsChannel.unsubscribe(channelNames.server, onServer);
    diagnosticsChannel.unsubscribe(channelNames.association, onAssociationEvent);
  };
}

/** The associations running now (for the stop and the metrics). */
const running = new Set<Association>();

function onAssociation(log: ServeLog, plain: boolean) {
  return (a: Association): void => {
    running.add(a);
    void a.whenClosed().then(() => running.delete(a));
    const tls = a.tls;
    const who = tls?.peerCertificate?.subject.replace(/\n/g, ', ');
    // The peer's side of the window (PS3.7 D.3.3.3): how many requests it may keep outstanding with us.
    const window = a.info.asynchronousOperations.performed;
    const windowText = window === 1 ? '' : `, up to ${window === 0 ? 'any number of' : window} requests outstanding`;
    const user = a.info.userIdentity?.username;
    const access = a.info.access;
    const accessText = `${user !== undefined ? `, user ${user}` : ''}${access !== undefined ? `; may ${access.permissions.join(', ')} (${access.rule ?? 'access rules'})` : ''}`;
    // A refused SOP class (a non-patient object, a private class) is said here: the peer then
    // sends nothing for it, or aborts, and the operator sees why.
    const refused = [...new Map(a.contexts.rejected.map((r) => [`${r.abstractSyntax} ${r.result}`, r])).values()];
    const refusedText = refused.length === 0 ? '' : `; refused ${refused.map((r) => `${r.abstractSyntax} (${presentationContextResultNames[r.result] ?? r.result})`).join(', ')}`;
    log('association', `association ${a.callingAeTitle} → ${a.calledAeTitle} from ${peerOf(a)} ${plain ? 'over plain DICOM' : `over ${tls?.protocol ?? 'TLS'}${tls?.group !== undefined ? ` (key exchange ${tls.group})` : ''}${who !== undefined ? `, certificate ${who} (SHA-256 ${tls!.peerCertificate!.fingerprint256})` : ''}`}${windowText}${accessText}${refusedText}`,
      { callingAeTitle: a.callingAeTitle, calledAeTitle: a.calledAeTitle, peer: peerOf(a), tls: tls === undefined ? null : { protocol: tls.protocol, cipher: tls.cipher, group: tls.group ?? null, subject: who ?? null, sha256Fingerprint: tls.peerCertificate?.fingerprint256 ?? null }, asynchronousOperationsWindow: window,
        user: user ?? null, permissions: access?.permissions ?? null, accessRule: access?.rule ?? null,
        refusedContexts: refused.map((r) => ({ abstractSyntax: r.abstractSyntax, result: r.result })) });
    void a.whenClosed().then(({ error }) => log('association-end', `association from ${a.callingAeTitle} (${peerOf(a)}) ${error === undefined ? 'released' : `ended: ${error.message}`}`, { callingAeTitle: a.callingAeTitle, peer: peerOf(a), error: error?.message ?? null, code: error?.code ?? null }));
  };
}

async function serve(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, serveOptions);
  if (positionals.length > 0) throw usageError(`serve takes no arguments (got "${positionals[0]}"); see dicom-tls serve --help`);
  const out = new Output(io, values);
  // Listen for the stop signals first: a Ctrl-C during start-up also ends in the clean stop below.
  const stopSignal = stopRequested(io.env);
  const reloadsHeld = holdReloads();
  const s = serveSettings(values, io.cwd, io.env);
  checkIdentity(s, values.config);
  // --json is the older spelling of --log-format json.
  const log = createServeLog(io.stdout, { ...s.log, format: s.log.format ?? (out.json ? 'json' : undefined) });
  // Bound, not listening, until the servers are ready (port-check.ts); a failed start ends the
  // process (bin.ts), which gives them back.
  const [tlsPort, plainPort] = await bindPorts(s.host, [{ port: s.port, option: '--port' }, { port: s.plainPort, option: '--plain-port' }]);
  try { mkdirSync(s.data, { recursive: true }); } catch (e) { throw fileError(`cannot create the data directory ${s.data}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e); }
  const dev = await ensurePki(s, log);
  const contextOptions = await contextOptionsFrom(s.tls, 'server', io);
  logCertificates(s.tls.cert, s.tls.ca, log);
  // A resumed handshake verifies no certificate: the lifetime bounds how long one verification
  // stands in for the next; 0 verifies the client's certificate at every association.
  const session = s.sessionLifetime === 0 ? { sessionResumption: false } : { sessionLifetime: s.sessionLifetime };
  const context = await buildContext({ ...contextOptions!, ...session });
  // C-MOVE destinations reached over TLS use our identity and trust as a client.
  const needClient = Object.values(s.moveDestinations).some((d) => d.tls);
  const clientContext = needClient ? await buildContext({ ...contextOptions!, role: 'client', verifyMode: 0x01 }) : undefined;
  const { StorageServer } = await import('../services/scp/storage-server.js');
  const stoppedEarly = await warmUp(s.warmUp, log, stopSignal);
  if (stoppedEarly !== undefined) {
    // Asked to stop during the warm-up: nothing was opened but the bound ports; none is listened on.
    log('stopping', `${stoppedEarly === 'parent-exited' ? 'the parent process (npm) exited' : stoppedEarly}: stopping during the start-up warm-up (the ports were never opened)`, { reason: stoppedEarly, running: 0 });
    for (const p of [tlsPort, plainPort]) p?.close();
    context.dispose();
    clientContext?.dispose();
    log('stopped', 'stopped cleanly');
    return ExitCode.Ok;
  }
  // Subscribed before the index opens: its migration is logged.
  const unsubscribe = subscribe(log);
  const stores = await import('./serve-stores.js');
  // Embedded by default; PostgreSQL (shared by several nodes) when configured. A database that
  // cannot be reached stops the start with one typed error (DICOM_ERR_STORE_INDEX_UNAVAILABLE).
  const index = await stores.openIndex(s);
  // S3 is checked here (bucket, credentials): a wrong one stops the start, not the first C-STORE.
  const { storeRoot, storage } = await stores.openStorage(s).catch(async (error: unknown) => {
    await index.close();
    throw error;
  });
  const destinations = Object.fromEntries(Object.entries(s.moveDestinations).map(([ae, d]) => [ae, { host: d.host, port: d.port, ...(d.tls ? { tls: clientContext } : {}) }]));
  const events = (srv: StorageServer): void => {
    srv.on('stored', (i, a) => i.duplicate
      ? log('store-duplicate', `${i.sopInstanceUid} from ${a.callingAeTitle} is already stored: kept the first copy (duplicates: keep-first), answered Success`, { ...storedFields(i, a), policy: 'keep-first' })
      : log('stored', `stored ${i.sopInstanceUid} from ${a.callingAeTitle} (${i.size} bytes) in ${i.path}`, storedFields(i, a), 'debug'));
    srv.on('storeFailed', (e, _r, a) => log('store-failed', `an instance from ${a.callingAeTitle} could not be stored: ${e.message}`, { error: e.message, code: (e as { code?: string }).code, callingAeTitle: a.callingAeTitle }, 'warn'));
  };
  const config = {
    aeTitle: s.aet, storeRoot, index, destinations, duplicates: s.duplicates,
    ...(storage === undefined ? {} : { storage }),
    limits: { ...s.limits, maxAssociations: s.maxAssociations, asynchronousOperations: { maxOperationsInvoked: s.asyncWindow, maxOperationsPerformed: 1 } },
    ...(s.bindings.length > 0 ? { certificateBindings: s.bindings } : {}), requireCertificateBinding: s.requireBinding,
    // Always on: without rules, a verified certificate may do everything, anyone else echo and store.
    access: s.access.rules,
    ...(s.access.usersFile === undefined ? {} : {
      server: { userIdentity: passwordFileVerifier(s.access.usersFile), requireUserIdentity: s.access.requireUser },
    }),
    acceptUnknownSopClasses: s.acceptUnknown,
  };
  // The audit trail subscribes before the first association; Application Start is its first message.
  const audit = s.audit === undefined ? undefined
    : await (await import('./audit.js')).startAudit(s.audit, { name: `dicom-tls serve[${process.pid}]`, aeTitles: [s.aet] }, contextOptions, log);
  const metrics = startMetrics(s.http, () => running.size);
  const servers: StorageServer[] = [];
  // Reports of commitments accepted and never sent (a stop, another node gone) go out from here.
  const tlsServer = await StorageServer.create({ ...config, tls: context, recoverCommitments: true });
  events(tlsServer);
  tlsServer.server.on('association', onAssociation(log, false));
  servers.push(tlsServer);
  const address = await tlsServer.listen(tlsPort ?? s.port, s.host).catch((e: unknown) => { throw portError(e, s.host, s.port, '--port'); });
  let plainAddress;
  if (s.plainPort !== undefined) {
    const plain = await StorageServer.create(config);
    events(plain);
    plain.server.on('association', onAssociation(log, true));
    servers.push(plain);
    const port = s.plainPort;
    plainAddress = await plain.listen(plainPort ?? port, s.host).catch((e: unknown) => { throw portError(e, s.host, port, '--plain-port'); });
  }
  const ops = await startOperations({
    log, tls: s.tls, context, watchCerts: s.watchCerts, expiryWarningDays: s.expiryWarningDays, http: s.http,
    storeRoot: config.storeRoot, index, running: () => running.size,
    build: async () => buildContext({ ...(await contextOptionsFrom(s.tls, 'server', io))!, ...session }),
    setContext: (c) => tlsServer.server.setTlsContext(c),
  }, metrics);
  if (reloadsHeld()) void ops.reload('SIGHUP during the start');
  const moveCount = Object.keys(s.moveDestinations).length;
  log('listening', `listening for DICOM over TLS on ${hostPort(s.host, address.port)} as AE ${s.aet}${plainAddress !== undefined ? `, plain DICOM on ${hostPort(s.host, plainAddress.port)}` : ''}; data in ${s.data}${storage === undefined ? '' : `, instances in ${storage.url}`}`,
    { port: address.port, plainPort: plainAddress?.port ?? null, aet: s.aet, data: s.data, storage: storage?.url ?? storeRoot, moveDestinations: moveCount, index: index.kind, pid: process.pid });
  if (log.format === 'text') {
    const rel = (p: string): string => { const r = relative(io.cwd, p); return r.startsWith('..') ? p : r; };
    const ca = dev?.ca ?? s.tls.ca?.[0] ?? '<ca.pem>';
    const cert = dev?.client ?? '<client.pem>';
    const key = dev?.clientKey ?? '<client-key.pem>';
    const at = connectHost(s.host);
    out.line('Connect with:');
    out.line(`  dicom-tls echo ${hostPort(at, address.port)} --call ${s.aet} --ca ${rel(ca)} --cert ${rel(cert)} --key ${rel(key)}`);
    out.line(`  echoscu +tls ${rel(key)} ${rel(cert)} +cf ${rel(ca)} -aec ${s.aet} ${at} ${address.port}`);
    if (plainAddress !== undefined) out.line(`  echoscu -aec ${s.aet} ${at} ${plainAddress.port}          (plain DICOM)`);
    out.line('Stop with Ctrl-C (instances in flight are finished first).');
  }

  // Stop cleanly: refuse new associations, let those in flight finish (their instances land), then close the index.
  const signal = await stopSignal;
  ops.stopping();
  log('stopping', `${signal === 'parent-exited' ? 'the parent process (npm) exited' : signal}: stopping (no new associations; waiting up to ${s.stopTimeout} s for ${running.size} in progress)`, { reason: signal, running: running.size });
  const force = (): void => { log('stopped', 'second signal: exiting now'); process.exit(ExitCode.Interrupted); };
  process.once('SIGINT', force).once('SIGTERM', force);
  await gracefulStop(servers, s.stopTimeout * 1000, () => running.size, log);
  unsubscribe();
  await audit?.stop();
  await ops.close();
  await index.close();
  await storage?.close();
  ops.context.dispose();
  clientContext?.dispose();
  log('stopped', 'stopped cleanly');
  return ExitCode.Ok;
}

export const command: CommandModule = { help, run: serve };
