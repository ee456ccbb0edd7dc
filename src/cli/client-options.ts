/**
 * What every client command (echo, store, find, move, get, diagnose) resolves from its options
 * before connecting: the peer, AE titles, timeout and the TLS context options.
 */
import { parseAeTitle, parsePeer, parseSeconds } from './args.js';
import { contextOptionsFrom, type TlsCliValues } from './tls-options.js';
import type { Io } from './io.js';
import type { SecureContextOptions } from '../transport/tls/context.js';
import type { UserIdentityRequest } from '../acse/user-identity.js';
import { readPassword } from './password.js';
import { usageError } from './errors.js';

export const DEFAULT_CALLING_AE = 'DICOM-TLS';
export const DEFAULT_CALLED_AE = 'ANY-SCP';

export interface ClientCliValues extends TlsCliValues {
  user?: string | undefined;
  'user-password-file'?: string | undefined;
  'user-password-env'?: string | undefined;
  'ask-user-password'?: boolean | undefined;
  aet?: string | undefined;
  call?: string | undefined;
  timeout?: string | undefined;
}

export interface ClientSettings {
  readonly host: string;
  readonly port: number;
  readonly callingAeTitle: string;
  readonly calledAeTitle: string;
  /** ms, or undefined for the library's defaults. */
  readonly timeout: number | undefined;
  /** undefined with --no-tls. */
  readonly tls: SecureContextOptions | undefined;
  /** --user: the identity sent in the A-ASSOCIATE-RQ (type 2 with a password, else type 1). */
  readonly userIdentity: UserIdentityRequest | undefined;
}

/** --user NAME with --user-password-file | --user-password-env | --ask-user-password (type 2), or alone (type 1). */
export async function userIdentityFrom(values: ClientCliValues, io: Io): Promise<UserIdentityRequest | undefined> {
  const sources = [values['user-password-file'], values['user-password-env'], values['ask-user-password'] === true ? true : undefined].filter((v) => v !== undefined);
  if (values.user === undefined) {
    if (sources.length > 0) throw usageError('a user password needs --user NAME');
    return undefined;
  }
  if (values.user === '') throw usageError('--user needs a user name');
  if (sources.length > 1) throw usageError('give only one of --user-password-file, --user-password-env and --ask-user-password');
  const passcode = await readPassword({ 'password-file': values['user-password-file'], 'password-env': values['user-password-env'], 'ask-password': values['ask-user-password'] }, io, `Password of ${values.user}: `);
  if (passcode === undefined) return { type: 'username', username: values.user, positiveResponseRequested: false };
  if (passcode === '') throw usageError('the user password is empty');
  return { type: 'username-passcode', username: values.user, passcode, positiveResponseRequested: false };
}

export async function clientSettings(values: ClientCliValues, peer: string | undefined, io: Io): Promise<ClientSettings> {
  const { host, port } = parsePeer(peer);
  const callingAeTitle = parseAeTitle(values.aet, 'aet', DEFAULT_CALLING_AE);
  const calledAeTitle = parseAeTitle(values.call, 'call', DEFAULT_CALLED_AE);
  const timeout = parseSeconds(values.timeout);
  const tls = await contextOptionsFrom(values, 'client', io);
  const userIdentity = await userIdentityFrom(values, io);
  return { host, port, callingAeTitle, calledAeTitle, timeout, tls, userIdentity };
}

/** The help block of the options shared by client commands (DCMTK names where they exist). */
export const clientOptionsHelp = `Connection:
  HOST:PORT              the peer (e.g. pacs.example.org:2762; DCMTK's HOST PORT works too)
  --aet AE               our AE title (calling; default ${DEFAULT_CALLING_AE})
  --call AE              the peer's AE title (called; default ${DEFAULT_CALLED_AE})
  --timeout SECONDS      connect, association and response timeout (default 30)
TLS (DICOM over TLS is the default; PS3.15 B.12):
  --no-tls               plain DICOM (no TLS)
  --cert FILE            our certificate (PEM or DER; a PEM may hold the chain)
  --key FILE             our private key (PEM or DER; may be encrypted)
  --pkcs12 FILE          our certificate + key as PKCS#12 instead of --cert/--key
  --password-file FILE | --password-env NAME | --ask-password
                         password of an encrypted key or PKCS#12
  --ca FILE|DIR          trusted CA certificates (repeatable)
  --crl FILE             certificate revocation list (repeatable)
  --crl-check leaf|all   check the peer's certificate only, or the whole chain
  --profile NAME         bcp195-rfc8996 (default, B.12), bcp195-rfc8996-modified (B.13),
                         bcp195-nd, bcp195, bcp195-extended (retired), legacy-aes, legacy-null
  --groups LIST          key-exchange groups, preferred first (OpenSSL names, colon-separated);
                         default X25519MLKEM768 (hybrid post-quantum) then the classical groups
  --require-hybrid-group accept only a hybrid post-quantum key exchange (TLS 1.3)
  --peer-cert require|verify|ignore
                         verify the peer's certificate (default require); ignore = no checks
  --verify-host NAME     check the peer's certificate names NAME (host name or IP)
User identity (PS3.7 D.3.3.7; a peer that requires one rejects the association without):
  --user NAME            send this user name (alone: type 1)
  --user-password-file FILE | --user-password-env NAME | --ask-user-password
                         and its password (type 2; in clear text without TLS)
Output:
  --json                 one JSON document on stdout
  --verbose, -v          protocol detail and stack traces
  --debug, -d            dump the protocol as DCMTK's -d does: TLS handshake and verify calls,
                         every PDU with its items, every DIMSE command set
  --quiet, -q            no notes on stderr (errors are still printed)
DCMTK spellings are accepted too (dicom-tls help dcmtk): -aet, -aec, -aem, -to, +tls KEY CERT,
+cf FILE, +cd DIR, +crl FILE, -ic, -rc, +px/+py/+pz/+pa/+pn, -P/-S/-W, -q, -v, -d.`;
