/**
 * `dicom-tls diagnose HOST:PORT`: why a secure DICOM connection fails or would fail. Connects as
 * a client recording the handshake trace and every verify call (continuing past errors, like
 * `openssl s_client`), prints each certificate in the seeds' format and the negotiated
 * protocol/cipher/ALPN, tries A-ASSOCIATE (+ C-ECHO when the AE layer is in the build), and ends
 * with a verdict, the fixes, and the exit code of the problem's class (0 = no problem).
 */
import { clientOptions, parse, parseAeTitle, parsePeer, parseSeconds } from './args.js';
import { DEFAULT_CALLED_AE, DEFAULT_CALLING_AE, clientOptionsHelp } from './client-options.js';
import { contextOptionsFrom } from './tls-options.js';
import { Output } from './io.js';
import { usageError } from './errors.js';
import type { CommandModule } from './command.js';
import type { AssociationOutcome, TlsProbe } from './diagnose-probe.js';
import type { Verdict } from './diagnose-verdict.js';
import { summarize, summaryLines, withoutPurposes } from './cert-summary.js';

export const help = `Usage: dicom-tls diagnose HOST:PORT [options]

Tells why a secure DICOM connection to HOST:PORT fails or would fail:
  1. a TLS handshake that records OpenSSL's handshake trace and EVERY certificate check (it goes
     on past errors, like openssl s_client, so one run shows every problem in the chain), each
     certificate, and the negotiated protocol, cipher, key-exchange group and ALPN;
  2. an A-ASSOCIATE-RQ (and C-ECHO) over that connection: a peer that speaks TLS but not DICOM,
     or DICOM without TLS, is named as such;
  3. a verdict (would the normal policy refuse?) and the fix in plain words, e.g. which extension
     to add to which certificate.
Exit code 0 when no problem is found, else the exit code of the problem (dicom-tls help exit-codes).
Without --ca every chain fails with "unable to get local issuer certificate": give the CA you
would use with echo/store.

${clientOptionsHelp.replace(/  --peer-cert[^\n]*\n[^\n]*\n/, '').replace(/User identity[^]*?(?=Output:)/, '')}

--json prints one object:
  { "tls": { "handshake": "ok"|"failed", "protocol", "cipher", "group", "alpn",
             "verify": [ { "depth", "ok", "error", "errorString", "certificateString" } ],
             "info": [ ... ], "alert" },
    "association": { "result", ... }, "echo": { "status" }, "verdict", "hints": [ ... ] }

Examples:
  dicom-tls diagnose pacs.example.org:2762 --ca hospital-ca.pem
  dicom-tls diagnose localhost:2762 --ca dicom-tls-data/pki/ca.pem \\
      --cert dicom-tls-data/pki/client.pem --key dicom-tls-data/pki/client-key.pem --call DICOM-TLS
  dicom-tls diagnose 10.0.0.5:2762 --ca ca.pem --verify-host 10.0.0.5 --json`;

interface EchoResult { status: string }

export const command: CommandModule = {
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, clientOptions);
    if (values.user !== undefined) throw usageError('diagnose sends no user identity: leave out --user');
    const out = new Output(io, values);
    const { host, port } = parsePeer(positionals[0]);
    const callingAeTitle = parseAeTitle(values.aet, 'aet', DEFAULT_CALLING_AE);
    const calledAeTitle = parseAeTitle(values.call, 'call', DEFAULT_CALLED_AE);
    const timeout = parseSeconds(values.timeout) ?? 10_000;
    // A DICOM peer answers an A-ASSOCIATE-RQ at once: without --timeout, 3 s of silence after it
    // (a TLS server that is not DICOM, a port that never talks) is the verdict, not a 10 s wait.
    const answerTimeout = parseSeconds(values.timeout) ?? 3_000;
    const base = await contextOptionsFrom(values, 'client', io, { requireCa: false });
    const probeMod = await import('./diagnose-probe.js');
    const { judge } = await import('./diagnose-verdict.js');
    const { x509ErrorHint } = await import('../transport/tls/x509-errors.js');
    const target = { host, port, timeout, ...(values['verify-host'] !== undefined ? { verifyHost: values['verify-host'] } : {}) };
    const request = { callingAeTitle, calledAeTitle };

    let tls: TlsProbe | null = null;
    let plain: AssociationOutcome | null = null;
    let association: AssociationOutcome = { result: 'not-attempted' };
    let echo: EchoResult | null = null;
    if (base !== undefined) {
      const { explainIdentityError } = await import('./tls-options.js');
      let r;
      try {
        r = await probeMod.probeTls(target, base);
      } catch (e) {
        throw explainIdentityError(e);
      }
      tls = r.probe;
      if (r.socket !== undefined) {
        try {
          association = await probeMod.probeAssociation(r.socket, request, answerTimeout);
        } catch (e) {
          // TLS 1.3: the server's verdict on our certificate arrives after our handshake ended.
          tls.handshake = 'failed';
          tls.failure = `the peer rejected the connection after the handshake: ${e instanceof Error ? e.message : String(e)}`;
        } finally {
          r.socket.end();
          r.socket.destroy();
        }
      } else {
        plain = await probeMod.probePlainDicom({ ...target, timeout: answerTimeout }, request);
      }
      r.context.dispose();
    } else {
      association = await probeMod.probePlainDicom({ ...target, timeout: answerTimeout }, request);
    }
    if (association.result === 'accepted' && association.verificationAccepted) {
      echo = await (async (): Promise<EchoResult> => {
        const [{ DicomClient }, { SecureContext }] = await Promise.all([import('../ae/client.js'), import('../transport/tls/context.js')]);
        const ctx = base === undefined ? undefined : new SecureContext({ ...base, verifyMode: 0x01, verifyCallback: () => 1 });
        try {
          const client = await DicomClient.associate({ host, port, tls: ctx, callingAeTitle, calledAeTitle, timeouts: { connect: timeout, association: timeout, dimse: timeout } });
          try {
            const rsp = await client.echo();
            return { status: rsp.status === 0 ? 'Success' : `0x${rsp.status.toString(16).padStart(4, '0')}` };
          } finally {
            await client.release().catch(() => client.abort());
          }
        } catch (e) {
          return { status: `failed: ${e instanceof Error ? e.message : String(e)}` };
        } finally {
          ctx?.dispose();
        }
      })();
    }
    const v = judge(tls, plain, association, echo, x509ErrorHint);
    if (tls !== null) {
      const { sameNameHints, nameMismatchHints } = await import('./cert-hints.js');
      v.hints.push(...nameMismatchHints(tls.verify, values['verify-host']), ...sameNameHints(tls.verify, values.ca ?? []));
    }
    if (out.json) {
      out.document({
        tls: tls === null ? null : {
          handshake: tls.handshake, protocol: tls.protocol, cipher: tls.cipher, group: tls.group, alpn: tls.alpn,
          verify: tls.verify.map((c) => ({ depth: c.depth, ok: c.ok, error: c.error, errorString: c.errorString, certificateString: c.certificateString })),
          info: tls.info,
          alert: tls.alert === null ? null : { level: tls.alert.level, code: tls.alert.code, description: tls.alert.description, direction: tls.alert.direction },
        },
        association: plain !== null && association.result === 'not-attempted' ? { ...association, plain } : association,
        echo: { status: echo?.status ?? (association.result === 'accepted' ? 'not-available' : 'not-attempted') },
        verdict: v.verdict,
        hints: v.hints,
      });
    } else {
      printHuman(out, host, port, tls, plain, association, echo, v);
    }
    return v.exitCode;
  },
};

function printHuman(out: Output, host: string, port: number, tls: TlsProbe | null, plain: AssociationOutcome | null,
  association: AssociationOutcome, echo: EchoResult | null, v: Verdict): void {
  out.line(`Diagnosing ${host}:${port}${tls === null ? ' (plain DICOM, --no-tls)' : ' (DICOM over TLS)'}`);
  if (tls !== null) {
    out.line('\nHandshake trace:');
    for (const l of tls.info) out.line(`  ${l}`);
    out.line('\nCertificate verification (every call, in order; the run goes on past errors):');
    if (tls.verify.length === 0) out.line('  (no certificate was verified)');
    for (const c of tls.verify) {
      out.line(`  depth=${c.depth} ${c.ok ? 'ok  ' : 'FAIL'} ${/^Subject Name: (.*)$/m.exec(c.certificateString)?.[1] ?? ''}`);
      if (!c.ok) out.line(`         error ${c.error} ${c.errorName}: ${c.errorString}`);
    }
    const seen = new Set<string>();
    const certs = tls.verify.filter((c) => !seen.has(c.certificateString) && (seen.add(c.certificateString), true)).sort((a, b) => b.depth - a.depth);
    for (const c of certs) {
      const lines = [...withoutPurposes(c.certificateString).split('\n'), ...(c.der !== undefined && c.der.length > 0 ? summaryLines(summarize(c.der)) : [])];
      out.line(`\nCertificate at depth ${c.depth}:\n${lines.map((l) => `  ${l}`).join('\n')}`);
    }
    out.line(`\nTLS: handshake ${tls.handshake}${tls.protocol !== null ? `, ${tls.protocol}, ${tls.cipher ?? ''}, key exchange ${tls.group ?? 'none'}${tls.group !== null && isHybrid(tls.group) ? ' (hybrid post-quantum)' : ''}, ALPN ${tls.alpn ?? 'none'}` : ''}`);
    if (tls.alert !== null) out.line(`     ${tls.alert.text}`);
    if (tls.failure !== null) out.line(`     ${tls.failure}`);
    if (tls.clientCertificateRequested !== null) {
      out.line(`     the server asked for a client certificate${tls.clientCertificateRequested.acceptableIssuers.length > 0 ? ` from: ${tls.clientCertificateRequested.acceptableIssuers.join('; ')}` : ''}`);
    }
  }
  if (plain !== null) out.line(`Plain DICOM on the same port: ${plain.result}`);
  out.line(`Association: ${describeAssociation(association)}`);
  out.line(`C-ECHO: ${echo?.status ?? (association.result === 'accepted' ? 'not available in this build' : 'not attempted')}`);
  out.line(`\nVerdict: ${v.verdict}`);
  if (v.hints.length > 0) {
    out.line('Fix:');
    for (const h of v.hints) out.line(`  - ${h}`);
  }
}

/** Hybrid groups mix a classical exchange with ML-KEM (names as OpenSSL 3.5 gives them). */
function isHybrid(group: string): boolean {
  return /mlkem/i.test(group) && !/^mlkem/i.test(group);
}

function describeAssociation(a: AssociationOutcome): string {
  switch (a.result) {
    case 'accepted': return `accepted (${a.callingAeTitle} → ${a.calledAeTitle})${a.verificationAccepted ? '' : ', but Verification was not accepted'}`;
    case 'rejected': return `rejected: ${a.rejectResult}, ${a.source}: ${a.reason}`;
    case 'aborted': return `aborted (source ${a.source}, reason ${a.reason})`;
    case 'not-dicom': return `the peer answered with ${a.detected}, not DICOM (first bytes ${a.firstBytes})`;
    default: return a.detail !== undefined ? `${a.result}: ${a.detail}` : a.result;
  }
}
