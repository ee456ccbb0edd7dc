/**
 * Loading the own identity (certificate, private key, chain) from PEM, DER or PKCS#12, given as a
 * file path or bytes. Encrypted keys ask the seeds' password callback (maximum length, writing
 * flag) through OpenSSL's own pem_password_cb, so traditional PEM, PKCS#8 and PKCS#12 all follow
 * OpenSSL's semantics. The returned handles are what the engine installs with
 * SSL_CTX_use_certificate / SSL_CTX_use_PrivateKey / SSL_CTX_add1_chain_cert (all take their own
 * reference), so `free()` may run right after installing.
 */
import { drainErrors, type OpenSslErrorEntry } from './openssl/lib.js';
import {
  BIO_free, EVP_PKEY_free, OPENSSL_sk_free, OPENSSL_sk_num, OPENSSL_sk_value, PEM_read_bio_PrivateKey,
  PKCS12_free, PKCS12_parse, PKCS12_verify_mac, X509_check_private_key, withPemPasswordCb, X509_free,
  d2i_PKCS12_bio, d2i_PKCS8PrivateKey_bio, d2i_PrivateKey_bio, memBioOf, type Ptr,
} from './openssl/x509.js';
import { describeSource, isPem, readCertificates, sourceBytes, type Source } from './x509-sources.js';
import { InvalidOptionError } from '../../errors.js';
import { KeyMismatchError, UnableToReadCertificateError, UnableToReadPrivateKeyError } from './x509-load-errors.js';

export type { Source } from './x509-sources.js';

/** Seeds' private-key password callback: OpenSSL's buffer size and rwflag (1 = writing a key). */
export type PasswordCallback = (maxLength: number, writing: boolean) => string | Buffer | undefined;

/** Own identity: `cert` + `key` (+ `chain`), or `pkcs12`. `password` wins over the callback. */
export interface IdentityOptions {
  cert?: Source;
  key?: Source;
  chain?: Source[];
  pkcs12?: Source;
  password?: string;
}

/** OpenSSL handles of a loaded identity. The caller owns them until `free()` (idempotent). */
export interface LoadedIdentity {
  readonly cert: Ptr;
  readonly key: Ptr;
  readonly chain: readonly Ptr[];
  free(): void;
}

/** PEM_BUFSIZE (pem.h): the buffer OpenSSL hands to pem_password_cb, and our PKCS#12 limit. */
const PEM_BUFSIZE = 1024;

/** What happened inside one password exchange, to name the cause when the read fails. */
export interface PasswordUse {
  asked: boolean; given: boolean; error: unknown;
  /** The answer was `length` bytes but only `limit` fit (the password callback's maxLength minus its NUL). */
  tooLong?: { length: number; limit: number };
}

/**
 * The callback's answer as bytes, checked: a string (UTF-8) or a Buffer, or undefined for none.
 * `limit` is the most bytes that fit (the seeds: the password plus its terminator must fit the
 * buffer of `maxLength`). Anything else is refused with an error that names it, never guessed at.
 */
export function passwordBytes(answer: unknown, limit: number, use: PasswordUse): Buffer | undefined {
  if (answer === undefined) return undefined;
  if (typeof (answer as { then?: unknown } | null)?.then === 'function') {
    (answer as Promise<unknown>).then(undefined, () => undefined);
    use.error = new InvalidOptionError('passwordCallback', 'returned a Promise: OpenSSL asks while it reads the key and needs the answer at once; read the password first (file, environment, prompt), then build the context');
    return undefined;
  }
  if (typeof answer !== 'string' && !Buffer.isBuffer(answer)) {
    use.error = new InvalidOptionError('passwordCallback', `must return a string, a Buffer or undefined, not ${answer === null ? 'null' : typeof answer}`);
    return undefined;
  }
  const bytes = typeof answer === 'string' ? Buffer.from(answer, 'utf8') : answer;
  if (bytes.length > limit) {
    use.tooLong = { length: bytes.length, limit };
    return undefined;
  }
  use.given = true;
  return bytes;
}

/**
 * Run `read(cb)` with a registered pem_password_cb that forwards to `ask`. Always passing our
 * own callback also keeps OpenSSL from prompting on the terminal (its PEM_def_callback). The
 * callback is asked once per read: OpenSSL's decoders may call pem_password_cb again after a
 * refusal (a PEM key tried as several types), and get the same answer without asking again.
 */
export function withPasswordCallback<T>(ask: PasswordCallback, read: (cb: Ptr) => T): { value: T; use: PasswordUse } {
  const use: PasswordUse = { asked: false, given: false, error: undefined };
  let answer: { bytes: Buffer | undefined } | undefined;
  const value = withPemPasswordCb((size, rwflag) => {
    if (answer === undefined) {
      use.asked = true;
      try {
        answer = { bytes: passwordBytes(ask(size, rwflag === 1), size - 1, use) };
      } catch (err) {
        use.error = err;
        answer = { bytes: undefined };
      }
    }
    return answer.bytes;
  }, read);
  return { value, use };
}

function keyError(use: PasswordUse, where: string, openssl: OpenSslErrorEntry[]): UnableToReadPrivateKeyError {
  if (use.tooLong !== undefined) {
    return new UnableToReadPrivateKeyError('password-too-long',
      `the password for ${where} is ${use.tooLong.length} bytes; at most ${use.tooLong.limit} fit (the password callback's maxLength, ${use.tooLong.limit + 1}, counts the terminating NUL)`, openssl);
  }
  const opts = use.error === undefined ? undefined : { cause: use.error };
  if (use.error !== undefined) {
    return new UnableToReadPrivateKeyError(use.given ? 'wrong-password' : 'missing-password',
      `the password callback failed for ${where}${use.error instanceof Error ? `: ${use.error.message}` : ''}`, openssl, opts);
  }
  if (use.asked && !use.given) {
    return new UnableToReadPrivateKeyError('missing-password', `${where} is encrypted and no password was given`, openssl);
  }
  if (use.asked) return new UnableToReadPrivateKeyError('wrong-password', `wrong password for ${where}`, openssl);
  return new UnableToReadPrivateKeyError('not-a-key', `${where} holds no readable private key`, openssl);
}

/** Read a private key from PEM (traditional, PKCS#8, encrypted either way) or DER bytes. */
function readPrivateKey(bytes: Buffer, where: string, ask: PasswordCallback): Ptr {
  const { value, use } = withPasswordCallback(ask, (cb) => {
    const bio = memBioOf(bytes);
    try {
      if (isPem(bytes)) return PEM_read_bio_PrivateKey(bio, null, cb, null);
      // DER: a plain key (PKCS#8 PrivateKeyInfo or traditional), else an encrypted PKCS#8.
      const plain = d2i_PrivateKey_bio(bio, null);
      if (plain !== null) return plain;
      drainErrors();
      const again = memBioOf(bytes);
      try {
        return d2i_PKCS8PrivateKey_bio(again, null, cb, null);
      } finally {
        BIO_free(again);
      }
    } finally {
      BIO_free(bio);
    }
  });
  if (value === null) throw keyError(use, where, drainErrors());
  return value;
}

function readBytes(source: Source, what: 'certificate' | 'key'): Buffer {
  try {
    return sourceBytes(source);
  } catch (err) {
    const msg = `cannot read ${describeSource(source)}`;
    throw what === 'key'
      ? new UnableToReadPrivateKeyError('unreadable', msg, [], { cause: err })
      : new UnableToReadCertificateError(msg, [], { cause: err });
  }
}

function readCertSource(source: Source): Ptr[] {
  const { certs, failed } = readCertificates(readBytes(source, 'certificate'));
  if (failed || certs.length === 0) {
    for (const c of certs) X509_free(c);
    throw new UnableToReadCertificateError(`${describeSource(source)} holds no readable certificate`, drainErrors());
  }
  return certs;
}

/** A password callback that answers `password` when given, else defers to `callback`. */
function passwordSource(password: string | undefined, callback: PasswordCallback | undefined): PasswordCallback {
  if (password !== undefined) return () => password;
  return callback ?? (() => undefined);
}

function ownIdentity(cert: Ptr, key: Ptr, chain: Ptr[]): LoadedIdentity {
  let freed = false;
  return {
    cert, key, chain,
    free() {
      if (freed) return;
      freed = true;
      X509_free(cert);
      EVP_PKEY_free(key);
      for (const c of chain) X509_free(c);
    },
  };
}

/** Load from PKCS#12: the MAC is checked first so a wrong password is named as such. */
function loadPkcs12(source: Source, ask: PasswordCallback): { cert: Ptr; key: Ptr; chain: Ptr[] } {
  const where = describeSource(source);
  const bytes = readBytes(source, 'key');
  const bio = memBioOf(bytes);
  const p12 = d2i_PKCS12_bio(bio, null);
  BIO_free(bio);
  if (p12 === null) throw new UnableToReadCertificateError(`${where} is not a PKCS#12 file`, drainErrors());
  try {
    // A PKCS#12 without a password (MAC over the empty or absent password) needs no callback.
    let pass: string | null = null;
    if (PKCS12_verify_mac(p12, null, 0) !== 1 && PKCS12_verify_mac(p12, '', 0) !== 1) {
      drainErrors();
      const use: PasswordUse = { asked: true, given: false, error: undefined };
      let bytes: Buffer | undefined;
      try {
        // The same limit as for PEM keys: what fits OpenSSL's password buffer with its NUL.
        bytes = passwordBytes(ask(PEM_BUFSIZE, false), PEM_BUFSIZE - 1, use);
      } catch (err) {
        use.error = err;
      }
      if (bytes === undefined) throw keyError(use, where, []);
      pass = bytes.toString('utf8');
      if (PKCS12_verify_mac(p12, pass, -1) !== 1) throw keyError(use, where, drainErrors());
    } else {
      drainErrors();
      pass = PKCS12_verify_mac(p12, null, 0) === 1 ? null : '';
    }
    const pkey: Ptr[] = [null];
    const cert: Ptr[] = [null];
    const ca: Ptr[] = [null];
    if (PKCS12_parse(p12, pass, pkey, cert, ca) !== 1) {
      const errors = drainErrors();
      // OpenSSL 3 keeps RC2-40 / 3DES (the `-legacy` PKCS#12 ciphers) in the legacy provider,
      // which Node does not load by default: say so instead of a bare "unsupported".
      const legacy = errors.some((e) => e.reason === 'unsupported');
      throw new UnableToReadPrivateKeyError('unreadable', legacy
        ? `${where} uses a legacy cipher (RC2-40 or 3DES) this OpenSSL does not load; re-export it with AES (openssl pkcs12 -export without -legacy)`
        : `${where} could not be decoded`, errors);
    }
    const chain: Ptr[] = [];
    if (ca[0] !== null) {
      const n = OPENSSL_sk_num(ca[0]) as number;
      for (let i = 0; i < n; i++) chain.push(OPENSSL_sk_value(ca[0], i));
      OPENSSL_sk_free(ca[0]);
    }
    if (cert[0] === null || pkey[0] === null) {
      if (cert[0] !== null) X509_free(cert[0]);
      if (pkey[0] !== null) EVP_PKEY_free(pkey[0]);
      for (const c of chain) X509_free(c);
      throw cert[0] === null
        ? new UnableToReadCertificateError(`${where} holds no certificate for its key`, drainErrors())
        : new UnableToReadPrivateKeyError('not-a-key', `${where} holds no private key`, drainErrors());
    }
    return { cert: cert[0], key: pkey[0], chain };
  } finally {
    PKCS12_free(p12);
  }
}

/**
 * Load the own identity. `cert` may be a PEM bundle (leaf first, then its chain); without `key`,
 * the key is read from the `cert` source (a combined PEM). Throws UnableToReadCertificateError,
 * UnableToReadPrivateKeyError (naming wrong / missing password) or KeyMismatchError.
 */
export function loadIdentity(options: IdentityOptions, passwordCallback?: PasswordCallback): LoadedIdentity {
  const ask = passwordSource(options.password, passwordCallback);
  let cert: Ptr;
  let key: Ptr;
  const chain: Ptr[] = [];
  if (options.pkcs12 !== undefined && (options.cert !== undefined || options.key !== undefined)) {
    throw new InvalidOptionError('identity', 'give cert and key, or pkcs12, not both');
  }
  if (options.pkcs12 !== undefined) {
    const loaded = loadPkcs12(options.pkcs12, ask);
    cert = loaded.cert;
    key = loaded.key;
    chain.push(...loaded.chain);
  } else {
    if (options.cert === undefined) {
      throw new UnableToReadCertificateError('no certificate given (identity needs cert, or pkcs12)');
    }
    const certs = readCertSource(options.cert);
    cert = certs[0];
    chain.push(...certs.slice(1));
    try {
      const keySource = options.key ?? options.cert;
      key = readPrivateKey(readBytes(keySource, 'key'), describeSource(keySource), ask);
    } catch (err) {
      for (const c of certs) X509_free(c);
      throw err;
    }
  }
  const identity = ownIdentity(cert, key, chain);
  try {
    for (const source of options.chain ?? []) chain.push(...readCertSource(source));
    if (X509_check_private_key(cert, key) !== 1) {
      throw new KeyMismatchError('the private key does not match the certificate', drainErrors());
    }
  } catch (err) {
    identity.free();
    throw err;
  }
  return identity;
}
