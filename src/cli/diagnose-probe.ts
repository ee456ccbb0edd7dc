/**
 * The measuring half of `diagnose`: a TLS handshake that records OpenSSL's information-callback
 * trace and EVERY verify-callback call (returning 1 so the handshake goes on past errors, as
 * `openssl s_client` without -verify_return_error does), then a bare A-ASSOCIATE-RQ over the
 * connection to see whether DICOM answers (PS3.8 9.3.2–9.3.4), and when TLS failed, the same
 * A-ASSOCIATE-RQ without TLS to recognise a plain DICOM port.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { buildAssociateRq } from '../acse/negotiate.js';
import { describeRejection } from '../ul/reject-reasons.js';
import { encodePdu } from '../ul/pdu/encode.js';
import { decodePdu } from '../ul/pdu/decode.js';
import { sniffTransport } from '../ul/pdu/sniff.js';
import { TransferSyntax, VerificationSopClass } from '../dictionary/uids.js';
import { SecureContext, type InfoEvent, type SecureContextOptions } from '../transport/tls/context.js';
import { SecureSocket } from '../transport/tls/socket.js';
import { TlsHandshakeError, type AlertInfo } from '../transport/tls/errors.js';
import { x509ErrorName } from '../transport/tls/x509-errors.js';
import { fromSystemError } from './errors.js';

export interface VerifyRecord {
  depth: number; ok: boolean; error: number; errorName: string; errorString: string; certificateString: string;
  /** The certificate itself, for comparisons the strings cannot make (same name, other key). */
  der?: Buffer;
}

export interface TlsProbe {
  handshake: 'ok' | 'failed';
  protocol: string | null;
  cipher: string | null;
  /** Key-exchange group, e.g. X25519MLKEM768 (hybrid post-quantum) or x25519. */
  group: string | null;
  alpn: string | null;
  verify: VerifyRecord[];
  info: string[];
  alert: (AlertInfo & { text: string }) | null;
  /** The one-sentence reason when the handshake failed. */
  failure: string | null;
  /** The handshake failed for want of a hybrid group that requireHybridGroup asked for. */
  noHybridGroup?: boolean;
  /** The server asked for a client certificate (CertificateRequest) and which CAs it names. */
  clientCertificateRequested: { acceptableIssuers: string[] } | null;
  /** A client certificate was configured (--cert/--pkcs12). */
  clientCertificateGiven: boolean;
}

export type AssociationOutcome =
  | { result: 'accepted'; calledAeTitle: string; callingAeTitle: string; verificationAccepted: boolean; peerImplementationClassUid?: string | undefined; peerImplementationVersionName?: string | undefined }
  | { result: 'rejected'; calledAeTitle: string; callingAeTitle: string; rejectResult: string; source: string; reason: string }
  | { result: 'aborted'; source: number; reason: number }
  | { result: 'not-dicom'; detected: string; firstBytes: string }
  | { result: 'no-answer' | 'closed' | 'not-attempted'; detail?: string };

/**
 * Services that speak first, recognised from their greeting: the port belongs to one of them.
 * `sniffTransport` knows TLS, DICOM and HTTP; these are the other usual wrong ports.
 */
export function serviceFromBanner(bytes: Uint8Array): string | undefined {
  const text = Buffer.from(bytes.subarray(0, 64)).toString('latin1');
  if (text.startsWith('SSH-')) return 'SSH';
  if (/^220[ -]/.test(text)) return /ftp/i.test(text) ? 'FTP' : 'SMTP';
  if (text.startsWith('+OK')) return 'POP3';
  if (text.startsWith('* OK')) return 'IMAP';
  if (text.startsWith('HTTP/') || /^<(!doctype|html)/i.test(text)) return 'HTTP';
  return undefined;
}

/** Infocallback lines in apps/lib/s_cb.c apps_ssl_info_callback's words. */
function infoLine(e: InfoEvent): string | undefined {
  const str = e.side === 'connect' ? 'SSL_connect' : e.side === 'accept' ? 'SSL_accept' : 'undefined';
  if (e.loop) return `${str}:${e.state}`;
  if (e.alert && e.alertInfo !== undefined) return `SSL3 alert ${e.alertInfo.direction}:${e.alertInfo.level}:${e.alertInfo.description}`;
  if (e.exit) {
    if (e.ret === 0) return `${str}:failed in ${e.state}`;
    if (e.ret < 0) return `${str}:error in ${e.state}`;
  }
  return undefined;
}

function alertText(a: AlertInfo): string {
  return `${a.direction === 'read' ? 'the peer sent' : 'we sent'} the ${a.level} alert "${a.description}" (${a.code})`;
}

export interface ProbeTarget { host: string; port: number; timeout: number; servername?: string | undefined; verifyHost?: string | undefined }

/** One TLS connection to the target; the socket stays open for the association probe when the handshake succeeded. */
export async function probeTls(target: ProbeTarget, base: SecureContextOptions): Promise<{ probe: TlsProbe; socket: SecureSocket | undefined; context: SecureContext }> {
  const probe: TlsProbe = {
    handshake: 'failed', protocol: null, cipher: null, group: null, alpn: null, verify: [], info: [], alert: null, failure: null,
    clientCertificateRequested: null, clientCertificateGiven: base.identity !== undefined,
  };
  const context = new SecureContext({
    ...base,
    // Verify the peer, always, so that every verify call is seen (0x01 = SSL_VERIFY_PEER).
    verifyMode: 0x01,
    verifyCallback: (ok, certificateString, error, errorString, ctx) => {
      probe.verify.push({ depth: ctx.depth, ok: ok === 1, error, errorName: x509ErrorName(error), errorString, certificateString, der: ctx.der });
      return 1;
    },
    infoCallback: (event) => {
      const line = infoLine(event);
      if (line !== undefined) probe.info.push(line);
      if (event.alertInfo !== undefined && event.alertInfo.level === 'fatal' && probe.alert === null) {
        probe.alert = { ...event.alertInfo, text: alertText(event.alertInfo) };
      }
    },
    clientCertificateCallback: (req) => {
      probe.clientCertificateRequested = { acceptableIssuers: req.acceptableIssuers };
      return undefined;
    },
  });
  try {
    const socket = await SecureSocket.connect({
      host: target.host, port: target.port, context, timeout: target.timeout,
      ...(target.servername !== undefined ? { servername: target.servername } : {}),
      ...(target.verifyHost !== undefined ? { verifyHost: target.verifyHost } : {}),
    });
    probe.handshake = 'ok';
    probe.protocol = socket.protocol ?? null;
    probe.cipher = socket.cipher ?? null;
    probe.group = socket.group ?? null;
    probe.alpn = socket.alpnProtocol ?? null;
    return { probe, socket, context };
  } catch (e) {
    if (!(e instanceof TlsHandshakeError)) {
      context.dispose();
      throw fromSystemError(e, target);
    }
    probe.failure = e.message;
    if (e.code === 'DICOM_TLS_ERR_NO_HYBRID_GROUP') probe.noHybridGroup = true;
    if (e.alert !== undefined) probe.alert = { ...e.alert, text: alertText(e.alert) };
    return { probe, socket: undefined, context };
  }
}

export interface AssociationRequest { callingAeTitle: string; calledAeTitle: string }

function associateRqBytes(a: AssociationRequest): Uint8Array {
  return encodePdu(buildAssociateRq({
    callingAeTitle: a.callingAeTitle, calledAeTitle: a.calledAeTitle,
    presentationContexts: [{ abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian] }],
  }));
}

/**
 * Send an A-ASSOCIATE-RQ on `stream` and classify the first PDU that answers. An accepted
 * association is released (A-RELEASE-RQ) so the peer logs a normal end. A stream error (e.g. the
 * TLS 1.3 server's alert after our last flight) rejects.
 */
export function probeAssociation(stream: Duplex, a: AssociationRequest, timeout: number): Promise<AssociationOutcome> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let settled = false;
    const finish = (outcome: AssociationOutcome | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off('data', onData).off('end', onEnd).off('error', onError).off('close', onEnd);
      if (outcome instanceof Error) reject(outcome); else resolve(outcome);
    };
    const timer = setTimeout(() => finish({ result: 'no-answer', detail: `no answer to the A-ASSOCIATE-RQ within ${timeout} ms` }), timeout);
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      const bytes = Buffer.concat(chunks, length);
      const kind = sniffTransport(bytes.subarray(0, 16));
      if (kind !== 'dicom') {
        const banner = serviceFromBanner(bytes);
        if (kind === 'unknown' && banner === undefined && bytes.length < 8) return;
        finish({ result: 'not-dicom', detected: banner ?? (kind === 'http' ? 'HTTP' : kind === 'tls' ? 'tls' : kind), firstBytes: bytes.subarray(0, 16).toString('hex') });
        return;
      }
      if (bytes.length < 6) return;
      const pduLength = bytes.readUInt32BE(2);
      if (bytes.length < 6 + pduLength) return;
      let pdu;
      try {
        pdu = decodePdu(bytes.subarray(0, 6 + pduLength));
      } catch {
        finish({ result: 'not-dicom', detected: 'malformed DICOM PDU', firstBytes: bytes.subarray(0, 16).toString('hex') });
        return;
      }
      if (pdu.type === 'A-ASSOCIATE-AC') {
        stream.write(encodePdu({ type: 'A-RELEASE-RQ' }));
        finish({
          result: 'accepted', calledAeTitle: a.calledAeTitle, callingAeTitle: a.callingAeTitle,
          verificationAccepted: pdu.presentationContexts.some((pc) => pc.result === 0),
          peerImplementationClassUid: pdu.userInformation.implementationClassUid,
          peerImplementationVersionName: pdu.userInformation.implementationVersionName,
        });
      } else if (pdu.type === 'A-ASSOCIATE-RJ') {
        const d = describeRejection(pdu.result, pdu.source, pdu.reason);
        finish({ result: 'rejected', calledAeTitle: a.calledAeTitle, callingAeTitle: a.callingAeTitle, rejectResult: d.result, source: d.source, reason: d.reason });
      } else if (pdu.type === 'A-ABORT') {
        finish({ result: 'aborted', source: pdu.source, reason: pdu.reason });
      } else {
        finish({ result: 'not-dicom', detected: `unexpected ${pdu.type}`, firstBytes: bytes.subarray(0, 16).toString('hex') });
      }
    };
    const onEnd = (): void => finish({ result: 'closed', detail: 'the peer closed the connection without answering the A-ASSOCIATE-RQ' });
    const onError = (e: Error): void => finish(e);
    stream.on('data', onData).on('end', onEnd).on('close', onEnd).on('error', onError);
    stream.write(associateRqBytes(a));
  });
}

/** The same A-ASSOCIATE-RQ over plain TCP: does a DICOM node answer without TLS? */
export async function probePlainDicom(target: ProbeTarget, a: AssociationRequest): Promise<AssociationOutcome> {
  const socket = net.connect({ host: target.host, port: target.port });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve).once('error', reject);
    });
    return await probeAssociation(socket, a, target.timeout);
  } catch (e) {
    return { result: 'closed', detail: e instanceof Error ? e.message : String(e) };
  } finally {
    socket.end();
    socket.destroy();
  }
}
