/**
 * The judging half of `diagnose`: from what the probes saw, the verdict (would the normal policy
 * refuse, and why, in one sentence), the fixes in plain words (certificate errors from the
 * x509 hints table, TLS alerts from the table below), and the exit code of the problem's class.
 */
import { ExitCode, type ExitCodeValue } from './errors.js';
import type { AssociationOutcome, TlsProbe, VerifyRecord } from './diagnose-probe.js';

export interface Verdict { verdict: string; hints: string[]; exitCode: ExitCodeValue }

export type HintLookup = (code: number) => string | undefined;

function subjectOf(certificateString: string): string {
  return /^Subject Name: (.*)$/m.exec(certificateString)?.[1] ?? '(unknown subject)';
}

/** TLS alerts the peer sends when it refuses us (RFC 8446 §6.2), and what to do about each. */
function alertHint(code: number, p: TlsProbe): string {
  const issuers = p.clientCertificateRequested?.acceptableIssuers ?? [];
  const named = issuers.length > 0 ? ` (it names these acceptable CAs: ${issuers.join('; ')})` : '';
  switch (code) {
    case 116: case 40:
      if (p.clientCertificateRequested !== null && !p.clientCertificateGiven) {
        return `the server requires a client certificate and none was given: add --cert and --key (or --pkcs12) with a certificate issued by a CA the server trusts${named}`;
      }
      return code === 40
        ? 'no protocol version or cipher suite in common (handshake failure): compare the profiles of both sides (--profile), e.g. bcp195-rfc8996 needs TLS 1.2+ with ECDHE-AES-GCM'
        : 'the server requires a client certificate: add --cert and --key (or --pkcs12)';
    case 48: return `the server does not trust the CA that issued our certificate: add our CA certificate to the server's trusted CAs, or use a certificate from a CA it trusts${named}`;
    case 42: case 43: return "the server rejected our certificate: check that its extended key usage includes clientAuth (TLS Web Client Authentication) and that it is not damaged";
    case 44: return 'the server says our certificate is revoked: obtain a new certificate';
    case 45: return 'the server says our certificate has expired (or is not valid yet): issue a new one and check both clocks';
    case 46: return 'the server could not verify our certificate (certificate_unknown): check that it trusts our CA and that our certificate allows clientAuth';
    case 49: return 'the server refused access (access_denied): ask its administrator whether our certificate or AE title is allowed';
    case 70: return 'no TLS version in common: the server offers an older or newer TLS than our profile allows; check --profile on both sides';
    case 71: return 'the server requires stronger cipher suites than we offer: use the current profile (bcp195-rfc8996)';
    case 112: return 'the server does not know the host name we sent (SNI): connect with the name it is configured for';
    case 120: return 'no application protocol (ALPN) in common';
    default: return `the peer ended the handshake with the alert "${p.alert?.description ?? code}"`;
  }
}

/** One hint per distinct certificate problem, naming the certificate (depth and subject). */
function verifyHints(calls: readonly VerifyRecord[], hint: HintLookup): string[] {
  const seen = new Set<string>();
  const hints: string[] = [];
  for (const c of calls) {
    if (c.ok) continue;
    const key = `${c.depth}:${c.error}`;
    if (seen.has(key)) continue;
    seen.add(key);
    hints.push(`depth ${c.depth} (${subjectOf(c.certificateString)}): ${c.errorString} (${c.errorName}): ${hint(c.error) ?? 'see the certificate above'}`);
  }
  return hints;
}

function associationHint(a: AssociationOutcome): string | undefined {
  if (a.result !== 'rejected') return undefined;
  if (/called-AE-title-not-recognized|called AE title not recognized/i.test(a.reason)) return `the peer does not know the called AE title "${a.calledAeTitle}": use --call with the AE title the peer is configured with`;
  if (/calling-AE-title-not-recognized|calling AE title not recognized/i.test(a.reason)) return `the peer does not accept our AE title "${a.callingAeTitle}": ask its administrator to add it (and bind it to our certificate), or use --aet with a title it knows`;
  if (/congestion|limit/i.test(a.reason)) return 'the peer is busy or at its association limit: try again later';
  return `the peer rejected the association (${a.reason}): check its configuration for our AE title and certificate`;
}

/** A port that belongs to another service (HTTP, SSH, SMTP …): name it and the usual DICOM ports. */
function wrongService(service: string, overTls: boolean): Verdict {
  return {
    verdict: `This port speaks ${service}, not ${overTls ? 'DICOM over TLS' : 'DICOM'}: it belongs to another service.`,
    hints: [`check the port number: DICOM over TLS is often on 2762, plain DICOM on 104 or 11112; ${service} ${service === 'HTTP' ? 'usually listens on 80, 443 or 8080' : service === 'SSH' ? 'usually listens on 22' : service === 'SMTP' ? 'usually listens on 25 or 587' : 'is not DICOM'}`],
    exitCode: ExitCode.TransportMismatch,
  };
}

export function judge(tls: TlsProbe | null, plain: AssociationOutcome | null, association: AssociationOutcome, echo: { status: string } | null, hint: HintLookup): Verdict {
  const hints: string[] = [];
  if (tls !== null && tls.handshake === 'failed') {
    if (plain?.result === 'accepted' || plain?.result === 'rejected' || plain?.result === 'aborted') {
      return { verdict: 'The peer speaks DICOM without TLS on this port: it does not accept DICOM over TLS here.', hints: ['use --no-tls for this port, or connect to the peer\'s TLS port (often 2762)'], exitCode: ExitCode.TransportMismatch };
    }
    if (plain?.result === 'not-dicom' && plain.detected !== 'tls') return wrongService(plain.detected, true);
    if (tls.noHybridGroup) {
      return {
        verdict: 'The TLS handshake failed: the peer has no hybrid post-quantum key exchange (X25519MLKEM768), which --require-hybrid-group asks for.',
        hints: ['the peer\'s TLS library predates hybrid groups (OpenSSL before 3.5): upgrade it, or connect without --require-hybrid-group (the default still offers X25519MLKEM768 first and falls back to a classical group)'],
        exitCode: ExitCode.HandshakeFailed,
      };
    }
    if (tls.alert !== null && tls.alert.direction === 'read') {
      hints.push(alertHint(tls.alert.code, tls), ...verifyHints(tls.verify, hint));
      return { verdict: `The TLS handshake failed: the peer refused it with the alert "${tls.alert.description}".`, hints, exitCode: ExitCode.HandshakeFailed };
    }
    if (tls.clientCertificateRequested !== null && !tls.clientCertificateGiven) {
      hints.push(alertHint(116, tls), ...verifyHints(tls.verify, hint));
      return { verdict: 'The TLS handshake failed: the server asked for a client certificate, none was given, and it closed the connection.', hints, exitCode: ExitCode.HandshakeFailed };
    }
    if (tls.verify.length === 0 && tls.info.length <= 3 && !/alert/.test(tls.failure ?? '')) {
      hints.push('the peer does not answer as a TLS server: check the port, and whether it expects plain DICOM (--no-tls)');
    }
    return { verdict: `The TLS handshake failed: ${(tls.failure ?? 'no reason given').replace(/^TLS handshake failed: /, '')}.`, hints, exitCode: ExitCode.HandshakeFailed };
  }
  const certHints = tls === null ? [] : verifyHints(tls.verify, hint);
  const firstBad = tls?.verify.find((c) => !c.ok);
  const assocHint = associationHint(association);
  const notDicom = association.result === 'not-dicom' || association.result === 'closed' || association.result === 'no-answer';
  if (firstBad !== undefined) {
    hints.push(...certHints);
    if (assocHint !== undefined) hints.push(assocHint);
    return {
      verdict: `The normal policy would refuse this peer: its certificate fails verification at depth ${firstBad.depth} (${firstBad.errorString}).`,
      hints, exitCode: ExitCode.PeerCertificateRejected,
    };
  }
  if (notDicom) {
    const what = tls !== null ? 'The peer speaks TLS but not DICOM on this port' : 'The peer does not speak DICOM on this port';
    const detail = association.result === 'not-dicom' ? ` (it answered with ${association.detected === 'tls' ? 'TLS' : association.detected})` : association.result === 'closed' ? ' (it closed the connection without answering)' : ' (no answer to the A-ASSOCIATE-RQ)';
    if (association.result === 'not-dicom' && association.detected !== 'tls' && association.detected !== 'unknown' && !/PDU/.test(association.detected)) {
      return wrongService(association.detected, tls !== null);
    }
    if (association.result === 'not-dicom' && association.detected === 'tls') {
      return { verdict: 'The peer expects TLS on this port: the connection was made without TLS.', hints: ['leave out --no-tls and give --ca (and --cert/--key if the peer asks for a client certificate)'], exitCode: ExitCode.TransportMismatch };
    }
    return { verdict: `${what}${detail}.`, hints: ['check the port number: it may belong to another service'], exitCode: ExitCode.TransportMismatch };
  }
  if (association.result === 'rejected') {
    return { verdict: `The peer rejected the association: ${association.reason}.`, hints: [assocHint!], exitCode: ExitCode.AssociationRejected };
  }
  if (association.result === 'aborted') {
    return { verdict: `The peer aborted the association (A-ABORT source ${association.source}, reason ${association.reason}).`, hints: ['the peer may refuse our certificate or AE title without saying so: check its logs'], exitCode: ExitCode.AssociationAborted };
  }
  if (association.result === 'accepted' && !association.verificationAccepted) {
    return { verdict: 'The association was accepted but the peer does not support Verification (C-ECHO).', hints: ['the peer accepted no presentation context for Verification SOP Class 1.2.840.10008.1.1'], exitCode: ExitCode.AssociationRejected };
  }
  if (echo !== null && echo.status !== 'Success') {
    return { verdict: `The association works but C-ECHO failed: ${echo.status}.`, hints, exitCode: ExitCode.DimseFailure };
  }
  const parts = [tls !== null ? `TLS works (${tls.protocol ?? '?'}, ${tls.cipher ?? '?'}) and the certificate chain verifies` : 'plain DICOM works',
    'the association was accepted', ...(echo !== null ? ['C-ECHO answered Success'] : [])];
  return { verdict: `No problem found: ${parts.join(', ')}.`, hints, exitCode: ExitCode.Ok };
}
