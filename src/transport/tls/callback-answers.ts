/**
 * What the engine makes of the seeds' callbacks' answers, and what it hands them: one rule per
 * callback for values that are not what OpenSSL expects (refused with an error naming them, never
 * guessed at), and the verify callback's view of OpenSSL's store context.
 */
import type { X509Certificate } from 'node:crypto';
import { InvalidOptionError } from '../../errors.js';
import * as S from './openssl/ssl.js';
import type { ConnectionHooks } from './context.js';

/**
 * The info callback's return value is ignored. An `async` callback's Promise is not waited for,
 * but its rejection is not lost either: it ends the connection like a throw would have.
 */
export function infoAnswer(answer: unknown, conn: ConnectionHooks): void {
  if (typeof (answer as { then?: unknown } | null)?.then === 'function') {
    (answer as Promise<unknown>).then(undefined, (e: unknown) => conn.failLater(e));
  }
}


/** X509_V_ERR_CERT_REJECTED (x509_vfy.h): OpenSSL maps it to the bad_certificate alert (42). */
export const X509_V_ERR_CERT_REJECTED = 28;

/**
 * The verify callback's view of the store's stacks: the chain built so far and the certificates
 * the peer sent. Read on first access (most callbacks never look) and only while the callback
 * runs: the store context is OpenSSL's and gone afterwards.
 */
export function liveStacks(store: unknown): { der(which: 'chain' | 'peer'): readonly Buffer[]; certs(which: 'chain' | 'peer'): readonly X509Certificate[]; close(): void } {
  let open = true;
  const ders = new Map<string, readonly Buffer[]>();
  const certs = new Map<string, readonly X509Certificate[]>();
  const der = (which: 'chain' | 'peer'): readonly Buffer[] => {
    let list = ders.get(which);
    if (list === undefined) {
      if (!open) throw new InvalidOptionError(`context.${which === 'chain' ? 'chain' : 'peerCertificates'}`, 'is readable only while the verify callback runs; read it there');
      const sk = which === 'chain' ? S.X509_STORE_CTX_get0_chain(store) : S.X509_STORE_CTX_get0_untrusted(store);
      const n = sk === null ? 0 : (S.OPENSSL_sk_num(sk) as number);
      list = Object.freeze(Array.from({ length: n }, (_, i) => derOf(S.OPENSSL_sk_value(sk, i))));
      ders.set(which, list);
    }
    return list;
  };
  return {
    der,
    certs(which) {
      let list = certs.get(which);
      if (list === undefined) {
        list = Object.freeze(der(which).map((d) => new (process.getBuiltinModule('node:crypto').X509Certificate)(d)));
        certs.set(which, list);
      }
      return list;
    },
    close() { open = false; },
  };
}

const derBio = { bio: undefined as unknown };
/** DER of an X509*, through one reused memory BIO. */
export function derOf(x509: unknown): Buffer {
  derBio.bio ??= S.BIO_new(S.BIO_s_mem());
  S.i2d_X509_bio(derBio.bio, x509);
  return S.readMemBio(derBio.bio);
}

/**
 * The verify callback's answer as OpenSSL takes it: a non-zero number continues, 0 stops; `true`
 * and `false` are taken for 1 and 0. Anything else (`undefined` — a forgotten `return` —, `null`,
 * NaN, a string, an object) would be a guess, so it fails the handshake with an error that names
 * it. A Promise (an `async` callback) cannot be waited for — the callback runs inside the
 * handshake — and fails it the same way, with an error that says so.
 */
export function verifyAnswer(answer: unknown): number {
  if (typeof answer === 'number' && !Number.isNaN(answer)) return answer !== 0 ? 1 : 0;
  if (typeof answer === 'boolean') return answer ? 1 : 0;
  if (typeof (answer as { then?: unknown } | null)?.then === 'function') {
    (answer as Promise<unknown>).then(undefined, () => undefined);
    throw new InvalidOptionError(
      'verifyCallback',
      'returned a Promise: the verify callback runs inside the handshake and must answer synchronously (0, 1 or ok); do asynchronous checks after the handshake',
    );
  }
  const what = answer === null ? 'null' : typeof answer === 'number' ? 'NaN' : typeof answer;
  throw new InvalidOptionError('verifyCallback', `must return 0, 1 or ok (or a boolean), not ${what}`);
}

/** The CA names of a server's CertificateRequest, one-line text and DER (the client-certificate callback's request). */
export function clientCaNames(ssl: unknown): { acceptableIssuers: string[]; acceptableIssuersDer: Buffer[] } {
  const names = S.SSL_get_client_CA_list(ssl);
  const n = names === null ? 0 : (S.OPENSSL_sk_num(names) as number);
  const acceptableIssuers: string[] = [];
  const acceptableIssuersDer: Buffer[] = [];
  const bio = S.BIO_new(S.BIO_s_mem());
  try {
    for (let i = 0; i < n; i++) {
      const name = S.OPENSSL_sk_value(names, i);
      S.X509_NAME_print_ex(bio, name, 0, S.XN_FLAG_ONELINE);
      acceptableIssuers.push(S.readMemBio(bio).toString('utf8'));
      const pder: unknown[] = [null];
      const plen: number[] = [0];
      if (S.X509_NAME_get0_der(name, pder, plen) === 1) {
        acceptableIssuersDer.push(Buffer.from(S.koffi.view(pder[0] as never, Number(plen[0])) as ArrayBuffer));
      }
    }
  } finally {
    S.BIO_free(bio);
  }
  return { acceptableIssuers, acceptableIssuersDer };
}
