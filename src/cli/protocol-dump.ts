/**
 * `-d` / `--debug`: the protocol as DCMTK's debug log shows it, for bug reports. Every PDU sent
 * and received is summarised with its items, every DIMSE command set printed element by element,
 * the TLS handshake trace (OpenSSL's info callback), every verify-callback call and the
 * handshake's outcome. Everything comes from the library's diagnostics channels
 * (src/diagnostics.ts): the library itself never prints. Lines start with "D: " as DCMTK's do.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { channelNames } from '../diagnostics.js';
import { CommandElement, type CommandSetElements } from '../dimse/command-set.js';
import { commandToElements, type DimseCommand } from '../dimse/messages.js';
import { VerificationSopClass, StorageSopClass, QueryRetrieveSopClass, NormalizedSopClass, TransferSyntax } from '../dictionary/uids.js';
import type { Pdu, UserInformationItem } from '../ul/pdu/types.js';

const UID_NAMES: ReadonlyMap<string, string> = new Map([
  [VerificationSopClass, 'Verification'],
  ['1.2.840.10008.3.1.1.1', 'DICOM Application Context'],
  ...[StorageSopClass, QueryRetrieveSopClass, NormalizedSopClass, TransferSyntax]
    .flatMap((group) => Object.entries(group).map(([name, uid]) => [uid, name] as [string, string])),
]);

/** `1.2.840.10008.1.1 (Verification)`, or the UID alone when it has no name here. */
export function uidText(uid: string): string {
  const name = UID_NAMES.get(uid);
  return name === undefined ? uid : `${uid} (${name})`;
}

const RESULT = ['acceptance', 'user-rejection', 'no-reason (provider rejection)', 'abstract-syntax-not-supported', 'transfer-syntaxes-not-supported'];

function userInformationLines(u: UserInformationItem): string[] {
  const lines = [`  User Information:`];
  if (u.maximumLength !== undefined) lines.push(`    Maximum Length:           ${u.maximumLength === 0 ? '0 (unlimited)' : u.maximumLength}`);
  if (u.implementationClassUid !== undefined) lines.push(`    Implementation Class UID: ${u.implementationClassUid}`);
  if (u.implementationVersionName !== undefined) lines.push(`    Implementation Version:   ${u.implementationVersionName}`);
  if (u.asynchronousOperationsWindow !== undefined) {
    lines.push(`    Asynchronous Operations:  invoked ${u.asynchronousOperationsWindow.maxOperationsInvoked}, performed ${u.asynchronousOperationsWindow.maxOperationsPerformed}`);
  }
  for (const r of u.roleSelections) lines.push(`    SCP/SCU Role Selection:   ${uidText(r.sopClassUid)} SCU=${r.scuRole ? 1 : 0} SCP=${r.scpRole ? 1 : 0}`);
  for (const x of u.sopClassExtendedNegotiations) lines.push(`    Extended Negotiation:     ${uidText(x.sopClassUid)} [${Buffer.from(x.serviceClassApplicationInformation).toString('hex')}]`);
  for (const x of u.sopClassCommonExtendedNegotiations) lines.push(`    Common Ext. Negotiation:  ${uidText(x.sopClassUid)} service ${x.serviceClassUid}`);
  if (u.userIdentityRq !== undefined) lines.push(`    User Identity:            type ${u.userIdentityRq.identityType}, positive response ${u.userIdentityRq.positiveResponseRequested ? 'requested' : 'not requested'} (values not shown)`);
  if (u.userIdentityAc !== undefined) lines.push(`    User Identity response:   ${u.userIdentityAc.serverResponse.length} bytes`);
  for (const x of u.unknownSubItems) lines.push(`    Unknown sub-item 0x${x.itemType.toString(16)}: ${x.data.length} bytes`);
  return lines;
}

/** The lines of one PDU (header line first), DCMTK's "Request Parameters" in short. */
export function pduLines(pdu: Pdu): string[] {
  switch (pdu.type) {
    case 'A-ASSOCIATE-RQ':
      return [`A-ASSOCIATE-RQ: ${pdu.callingAeTitle} → ${pdu.calledAeTitle}, protocol version ${pdu.protocolVersion}`,
        `  Application Context:      ${uidText(pdu.applicationContextName)}`,
        ...pdu.presentationContexts.flatMap((pc) => [
          `  Presentation Context ${pc.id}: ${uidText(pc.abstractSyntax)}`,
          ...pc.transferSyntaxes.map((ts) => `    proposed transfer syntax: ${uidText(ts)}`)]),
        ...userInformationLines(pdu.userInformation)];
    case 'A-ASSOCIATE-AC':
      return [`A-ASSOCIATE-AC: ${pdu.callingAeTitle} → ${pdu.calledAeTitle}, protocol version ${pdu.protocolVersion}`,
        `  Application Context:      ${uidText(pdu.applicationContextName)}`,
        ...pdu.presentationContexts.map((pc) => `  Presentation Context ${pc.id}: ${RESULT[pc.result] ?? `result ${pc.result}`}${pc.result === 0 ? `, ${uidText(pc.transferSyntax)}` : ''}`),
        ...userInformationLines(pdu.userInformation)];
    case 'A-ASSOCIATE-RJ':
      return [`A-ASSOCIATE-RJ: result ${pdu.result} (${pdu.result === 1 ? 'permanent' : 'transient'}), source ${pdu.source}, reason ${pdu.reason}`];
    case 'P-DATA-TF':
      return [`P-DATA-TF: ${pdu.pdvs.length} PDV${pdu.pdvs.length === 1 ? '' : 's'}`,
        ...pdu.pdvs.map((v) => `  PDV context ${v.presentationContextId}: ${v.isCommand ? 'command' : 'data set'}, ${v.isLast ? 'last' : 'more follow'}, ${v.data.length} bytes${v.continued ? ' (continued)' : ''}`)];
    case 'A-RELEASE-RQ': case 'A-RELEASE-RP':
      return [pdu.type];
    case 'A-ABORT':
      return [`A-ABORT: source ${pdu.source}, reason ${pdu.reason}`];
  }
}

function valueText(keyword: string, value: unknown): string {
  if (typeof value === 'number') return keyword === 'Status' || keyword === 'CommandField' || keyword === 'CommandDataSetType' ? `${value} (0x${value.toString(16).padStart(4, '0')})` : String(value);
  if (Array.isArray(value)) return value.map((t: number) => `(${(t >>> 16).toString(16).padStart(4, '0')},${(t & 0xffff).toString(16).padStart(4, '0')})`).join('\\');
  const s = String(value);
  return keyword.endsWith('UID') ? uidText(s) : s;
}

/** A DIMSE command set element by element: `(0000,0100) US 48 (0x0030)  # CommandField`. */
export function commandLines(direction: 'sent' | 'received', command: DimseCommand, presentationContextId: number): string[] {
  let elements: CommandSetElements;
  try { elements = commandToElements(command); } catch { elements = {}; }
  const rows = (Object.entries(CommandElement) as [keyof typeof CommandElement, { element: number; vr: string }][])
    .filter(([k]) => k !== 'CommandGroupLength' && (elements as Record<string, unknown>)[k] !== undefined)
    .map(([k, d]) => `  (0000,${d.element.toString(16).padStart(4, '0')}) ${d.vr} ${valueText(k, (elements as Record<string, unknown>)[k])}  # ${k}`);
  return [`===================== ${direction === 'sent' ? 'OUTGOING' : 'INCOMING'} DIMSE MESSAGE ====================`,
    `${command.type} on presentation context ${presentationContextId}`, ...rows,
    '======================= END DIMSE MESSAGE ======================='];
}

// SSL_CB_* bits (ssl.h), here so the dump needs no OpenSSL binding.
const CB = { LOOP: 0x01, EXIT: 0x02, READ: 0x04, WRITE: 0x08, ALERT: 0x4000, START: 0x10, DONE: 0x20, CONNECT: 0x1000, ACCEPT: 0x2000 };

/** OpenSSL's info callback as `s_client -state` prints it: `SSL_connect:SSLv3/TLS write client hello`. */
export function tlsInfoLine(m: { where: number; state: string; alert?: { level: string; description: string; direction: string } | undefined }): string | undefined {
  const side = (m.where & CB.CONNECT) !== 0 ? 'SSL_connect' : (m.where & CB.ACCEPT) !== 0 ? 'SSL_accept' : 'SSL';
  if ((m.where & CB.ALERT) !== 0 && m.alert !== undefined) return `TLS alert ${m.alert.direction}: ${m.alert.level} "${m.alert.description}"`;
  if ((m.where & CB.START) !== 0) return 'TLS handshake start';
  if ((m.where & CB.DONE) !== 0) return 'TLS handshake done';
  if ((m.where & CB.LOOP) !== 0) return `${side}:${m.state}`;
  if ((m.where & CB.EXIT) !== 0) return `${side}:${m.state} (exit)`;
  return undefined;
}

/**
 * Subscribe to every protocol channel and write the dump to `write` (a line at a time, each
 * prefixed "D: "). Returns the unsubscribe function.
 */
export function startProtocolDump(write: (line: string) => void): () => void {
  const out = (lines: readonly string[]): void => { for (const l of lines) write(`D: ${l}`); };
  const handlers: Array<[string, (m: unknown) => void]> = [
    [channelNames.pduSent, (m) => out(pduLines((m as { pdu: Pdu }).pdu).map((l, i) => i === 0 ? `sent ${l}` : l))],
    [channelNames.pduReceived, (m) => out(pduLines((m as { pdu: Pdu }).pdu).map((l, i) => i === 0 ? `received ${l}` : l))],
    [channelNames.dimse, (m) => {
      const d = m as { direction: 'sent' | 'received'; command: DimseCommand; presentationContextId: number };
      out(commandLines(d.direction, d.command, d.presentationContextId));
    }],
    [channelNames.tlsInfo, (m) => { const l = tlsInfoLine(m as never); if (l !== undefined) out([l]); }],
    [channelNames.tlsVerify, (m) => {
      const v = m as { depth: number; ok: number; error: number; errorString: string; certificateString: string; result: number };
      // The certificate without OpenSSL's purposes table (pki inspect --purposes shows it).
      const cert = v.certificateString.split('\n');
      const end = cert.findIndex((l) => l.startsWith('Certificate purposes'));
      out([`TLS verify depth=${v.depth} ok=${v.ok} error=${v.error} (${v.errorString}) -> ${v.result}`, ...cert.slice(0, end < 0 ? cert.length : end).map((l) => `  ${l}`)]);
    }],
    [channelNames.tlsHandshake, (m) => {
      const h = m as { protocol: string; cipher: string; group?: string; resumed: boolean };
      out([`TLS connection established: ${h.protocol} ${h.cipher}${h.group ? ` group ${h.group}` : ''}${h.resumed ? ' (resumed)' : ''}`]);
    }],
    [channelNames.tlsHandshakeFailed, (m) => out([`TLS handshake failed: ${String((m as { error: Error }).error?.message)}`])],
    [channelNames.association, (m) => {
      const a = m as { kind: string; detail?: { from?: string; to?: string; event?: string } };
      if (a.kind !== 'listener-error') out([`association ${a.kind}${a.detail?.from !== undefined ? ` (${a.detail.from} → ${a.detail.to} on ${a.detail.event})` : ''}`]);
    }],
  ];
  for (const [name, h] of handlers) diagnosticsChannel.subscribe(name, h);
  return () => { for (const [name, h] of handlers) diagnosticsChannel.unsubscribe(name, h); };
}
