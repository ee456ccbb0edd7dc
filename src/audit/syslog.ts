/**
 * RFC 5424 syslog messages carrying an audit message, as IHE ITI TF-2 3.20.6 (ATNA "Record Audit
 * Event") asks: facility 10 (security/authorization), severity 5 (notice), MSGID "IHE+RFC-3881",
 * no structured data, MSG the XML in UTF-8 with a BOM (RFC 5424 6.4).
 */
import { hostname } from 'node:os';

/** PRI = facility × 8 + severity (RFC 5424 6.2.1): authpriv (10), notice (5). */
export const AUDIT_PRI = 10 * 8 + 5;
const BOM = '\ufeff';

/** RFC 5424 fields are PRINTUSASCII, no spaces; NILVALUE '-' when empty. */
function field(s: string | undefined, max: number): string {
  const v = (s ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return v === '' ? '-' : v;
}

export interface SyslogHeader {
  readonly hostname?: string;
  readonly appName?: string;
  readonly procId?: string;
}

/** One RFC 5424 SYSLOG-MSG (no framing). */
export function syslogMessage(xml: string, at: Date, h: SyslogHeader = {}): Buffer {
  const header = `<${AUDIT_PRI}>1 ${at.toISOString()} ${field(h.hostname ?? hostname(), 255)} ${field(h.appName ?? 'dicom-tls', 48)} ${field(h.procId ?? String(process.pid), 128)} IHE+RFC-3881 - `;
  return Buffer.from(header + BOM + xml, 'utf8');
}

/** RFC 5425 4.3 / RFC 6587 3.4.1 octet counting: "MSG-LEN SP SYSLOG-MSG". */
export function octetCounted(message: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

/**
 * Split an octet-counted stream into messages; returns the messages and the bytes left over
 * (an incomplete frame). Throws on a frame that does not start with a length.
 */
export function splitOctetCounted(data: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = [];
  let off = 0;
  for (;;) {
    const sp = data.indexOf(0x20, off);
    if (sp < 0) break;
    const lenText = data.subarray(off, sp).toString('ascii');
    if (!/^[1-9][0-9]{0,9}$/.test(lenText)) throw new Error(`not an octet-counted frame at byte ${off}: '${lenText.slice(0, 16)}'`);
    const len = Number(lenText);
    if (sp + 1 + len > data.length) break;
    messages.push(data.subarray(sp + 1, sp + 1 + len));
    off = sp + 1 + len;
  }
  return { messages, rest: data.subarray(off) };
}
