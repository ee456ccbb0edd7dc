/**
 * `dicom-tls pki`: a development PKI for DICOM TLS, made in-process (transport/tls/pki.ts).
 *   init DIR     a CA plus `server` and `client` node certificates (serverAuth + clientAuth,
 *                SANs for host names and IPs), optionally encrypted keys and PKCS#12 bundles
 *   issue NAME   one more node certificate from an existing CA
 *   inspect FILE the seeds' certificate string of every certificate in a PEM, DER or PKCS#12 file
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { commonOptions, oneOf, parse, passwordOptions } from './args.js';
import { CliError, ExitCode, fileError, usageError, CliCode, codeOf } from './errors.js';
import { Output, type Io } from './io.js';
import { readPassword } from './password.js';
import { explainIdentityError } from './tls-options.js';
import type { CommandModule } from './command.js';

export const help = `Usage:
  dicom-tls pki init DIR [options]        create a CA and server + client certificates in DIR
  dicom-tls pki issue NAME --dir DIR      issue one more node certificate from DIR's CA
  dicom-tls pki inspect FILE              print each certificate in FILE (PEM, DER or PKCS#12):
                                          names, subjectAltName, SHA-256 fingerprint, key, expiry

Certificates are for DICOM TLS (PS3.15 B.12): EC P-256 (or RSA 2048) keys, SHA-256, basic
constraints, key usage, extended key usage serverAuth + clientAuth (a DICOM node both accepts and
initiates associations) and subjectAltName entries for every --host and --ip.

Files written by init (keys are created with mode 0600):
  DIR/ca.pem  DIR/ca-key.pem  DIR/server.pem  DIR/server-key.pem  DIR/client.pem  DIR/client-key.pem
  DIR/server.p12  DIR/client.p12   (with --pkcs12)
issue NAME writes DIR/NAME.pem and DIR/NAME-key.pem (and DIR/NAME.p12 with --pkcs12).

Options for init and issue:
  --host NAME           DNS name for subjectAltName (repeatable; init default: localhost and
                        this machine's host name)
  --ip ADDRESS          IP address for subjectAltName (repeatable; init default: 127.0.0.1, ::1)
  --name NAME           (init) the CA's name; a unique suffix is added so that two PKIs never
                        share a CA name (default: the directory and this machine's host name)
  --cn NAME             common name, exactly (issue: default NAME; init: the CA's, no suffix)
  --org NAME            organization (O) in every subject
  --days N              validity of node certificates (default 825; the CA gets 3650)
  --key-type ec|rsa     key algorithm (default ec = P-256)
  --server-only / --client-only   (issue) only serverAuth or only clientAuth
  --encrypt             encrypt the private keys (PKCS#8, AES-256-CBC) with the password
  --pkcs12              also write PKCS#12 bundles (key, certificate, CA), protected by the password
  --force               overwrite existing files
  --password-file FILE | --password-env NAME | --ask-password
                        the password for --encrypt / --pkcs12, and for an encrypted CA key (issue)
  --json                print what was written as JSON
Options for inspect:
  --password-file FILE | --password-env NAME | --ask-password   for a PKCS#12 file
  --purposes            also OpenSSL's table of certificate purposes

Examples:
  dicom-tls pki init ./pki --host pacs.example.org --ip 10.0.0.5
  dicom-tls pki init ./pki --encrypt --pkcs12 --password-file pass.txt
  dicom-tls pki issue modality1 --dir ./pki --host ct1.example.org --client-only
  dicom-tls pki inspect ./pki/server.pem
  dicom-tls pki inspect ./pki/client.p12 --ask-password`;

const issueOptions = {
  ...commonOptions, ...passwordOptions,
  host: { type: 'string', multiple: true },
  ip: { type: 'string', multiple: true },
  cn: { type: 'string' },
  org: { type: 'string' },
  days: { type: 'string' },
  'key-type': { type: 'string' },
  'server-only': { type: 'boolean' },
  'client-only': { type: 'boolean' },
  encrypt: { type: 'boolean' },
  pkcs12: { type: 'boolean' },
  force: { type: 'boolean' },
  dir: { type: 'string' },
  name: { type: 'string' },
} as const;

interface Written { kind: string; path: string; description?: string }

function writeOut(path: string, data: string | Buffer, secret: boolean, force: boolean): void {
  if (existsSync(path) && !force) throw fileError(`${path} already exists (use --force to overwrite)`);
  try {
    writeFileSync(path, data, { mode: secret ? 0o600 : 0o644 });
    if (secret) chmodSync(path, 0o600);
  } catch (e) {
    throw fileError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e);
  }
}

function days(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 36500) throw usageError(`--days must be a whole number 1–36500, got "${text}"`);
  return n;
}

/** Options every PKI-creating action shares, resolved once (the password is read before any OpenSSL call). */
async function pkiSettings(values: Record<string, unknown>, io: Io): Promise<{ password: string | undefined; keyType: 'ec' | 'rsa' }> {
  const encrypt = values.encrypt === true;
  const p12 = values.pkcs12 === true;
  const password = await readPassword(values, io, 'PKI password: ');
  if ((encrypt || p12) && password === undefined) {
    throw new CliError(CliCode.password, `${encrypt ? '--encrypt' : '--pkcs12'} needs a password: give --password-file, --password-env or --ask-password`);
  }
  if (password !== undefined && password.length < 4 && (encrypt || p12)) {
    throw new CliError(CliCode.password, 'the password must have at least 4 characters (OpenSSL refuses shorter PEM passwords)');
  }
  return { password, keyType: oneOf(values['key-type'] as string | undefined, 'key-type', ['ec', 'rsa'] as const) ?? 'ec' };
}

async function init(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, issueOptions);
  const out = new Output(io, values);
  if (positionals.length !== 1) throw usageError('pki init takes one directory: dicom-tls pki init DIR');
  const dir = resolve(io.cwd, positionals[0]!);
  const settings = await pkiSettings(values, io);
  const written = createDevelopmentPki(dir, {
    hosts: values.host ?? ['localhost', ...(hostname() && hostname() !== 'localhost' ? [hostname()] : [])],
    ips: values.ip ?? ['127.0.0.1', '::1'],
    caName: values.cn ?? uniqueCaName(values.name, dir),
    ...(values.org !== undefined ? { org: values.org } : {}),
    days: days(values.days, 825), keyType: settings.keyType, encrypt: values.encrypt === true,
    pkcs12: values.pkcs12 === true, password: settings.password, force: values.force === true,
  }, await import('../transport/tls/pki.js'));
  report(out, written, dir);
  return ExitCode.Ok;
}

/**
 * "dicom-tls CA <name> a1b2c3": from --name, else the directory and host name, and a random suffix:
 * two `pki init` runs (two machines, two serve data directories) never make CAs of one name,
 * so "issuer X is not trusted" cannot hide that X is another CA with the same name.
 */
export function uniqueCaName(name: string | undefined, dir: string): string {
  const base = name ?? `${basename(dirname(dir))}/${basename(dir)} on ${hostname() || 'localhost'}`;
  // CN is at most 64 characters (RFC 5280 ub-common-name).
  return `dicom-tls CA ${base.slice(0, 43)} ${randomBytes(3).toString('hex')}`;
}

export interface DevelopmentPkiOptions {
  hosts: readonly string[]; ips: readonly string[]; caName?: string; org?: string; days: number;
  keyType: 'ec' | 'rsa'; encrypt: boolean; pkcs12: boolean; password: string | undefined; force: boolean;
}

/** The files of `pki init` (also used by `serve` for its first-run PKI). */
export function createDevelopmentPki(dir: string, o: DevelopmentPkiOptions, pki: typeof import('../transport/tls/pki.js')): Written[] {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fileError(`cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e);
  }
  const org: Array<readonly [string, string]> = o.org !== undefined ? [['O', o.org]] : [['O', 'dicom-tls development PKI']];
  const keyPassword = o.encrypt ? o.password : undefined;
  const ca = pki.createCertificateAuthority({
    subject: [['CN', o.caName ?? uniqueCaName(undefined, dir)], ...org], keyType: o.keyType,
    ...(keyPassword !== undefined ? { keyPassword } : {}),
  });
  const written: Written[] = [];
  const files: Array<[string, string | Buffer, boolean, string, string?]> = [
    [join(dir, 'ca.pem'), ca.certPem, false, 'CA certificate', ca.description],
    [join(dir, 'ca-key.pem'), ca.keyPem, true, 'CA private key'],
  ];
  const signer = { certPem: ca.certPem, keyPem: ca.keyPem, ...(keyPassword !== undefined ? { keyPassword } : {}) };
  for (const name of ['server', 'client']) {
    const node = pki.createNodeCertificate(signer, {
      commonName: name === 'server' ? (o.hosts[0] ?? 'localhost') : 'dicom-tls client', subject: org,
      dnsNames: o.hosts, ipAddresses: o.ips, days: o.days, keyType: o.keyType,
      ...(keyPassword !== undefined ? { keyPassword } : {}),
    });
    files.push([join(dir, `${name}.pem`), node.certPem, false, `${name} certificate`, node.description]);
    files.push([join(dir, `${name}-key.pem`), node.keyPem, true, `${name} private key`]);
    if (o.pkcs12) {
      files.push([join(dir, `${name}.p12`), pki.writePkcs12({
        certPem: node.certPem, keyPem: node.keyPem, chainPem: [ca.certPem], password: o.password!, friendlyName: name,
        ...(keyPassword !== undefined ? { keyPassword } : {}),
      }), true, `${name} PKCS#12`]);
    }
  }
  // Check every target first: never leave half a PKI behind because the third file existed.
  if (!o.force) for (const [path] of files) if (existsSync(path)) throw fileError(`${path} already exists (use --force to overwrite)`);
  for (const [path, data, secret, kind, description] of files) {
    writeOut(path, data, secret, o.force);
    written.push({ kind, path, ...(description !== undefined ? { description } : {}) });
  }
  return written;
}

function report(out: Output, written: Written[], dir: string): void {
  if (out.json) {
    out.document({ directory: dir, files: written.map((w) => ({ kind: w.kind, path: w.path, ...(w.description ? { certificateString: w.description } : {}) })) });
    return;
  }
  for (const w of written) out.line(`wrote ${w.kind.padEnd(22)} ${w.path}`);
  for (const w of written.filter((x) => x.description !== undefined && out.verbose)) out.line(`\n${w.kind}:\n${w.description!}`);
}

async function issue(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, issueOptions);
  const out = new Output(io, values);
  if (positionals.length !== 1) throw usageError('pki issue takes one name: dicom-tls pki issue NAME --dir DIR');
  const name = positionals[0]!;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw usageError(`the name "${name}" must be letters, digits, '.', '_' or '-' (it names the files)`);
  if (values.dir === undefined) throw usageError('pki issue needs --dir DIR (the directory holding ca.pem and ca-key.pem)');
  if (values['server-only'] === true && values['client-only'] === true) throw usageError('give at most one of --server-only and --client-only');
  const dir = resolve(io.cwd, values.dir);
  const settings = await pkiSettings(values, io);
  const read = (f: string): Buffer => {
    try { return readFileSync(join(dir, f)); } catch (e) { throw fileError(`cannot read ${join(dir, f)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e); }
  };
  const caCert = read('ca.pem');
  const caKey = read('ca-key.pem');
  const pki = await import('../transport/tls/pki.js');
  const keyPassword = values.encrypt === true ? settings.password : undefined;
  let node;
  try {
    node = pki.createNodeCertificate({ certPem: caCert, keyPem: caKey, ...(settings.password !== undefined ? { keyPassword: settings.password } : {}) }, {
      commonName: values.cn ?? name, ...(values.org !== undefined ? { subject: [['O', values.org]] } : {}),
      dnsNames: values.host ?? [], ipAddresses: values.ip ?? [], days: days(values.days, 825), keyType: settings.keyType,
      serverAuth: values['client-only'] !== true, clientAuth: values['server-only'] !== true,
      ...(keyPassword !== undefined ? { keyPassword } : {}),
    });
  } catch (e) {
    throw explainIdentityError(e);
  }
  const force = values.force === true;
  const targets = [join(dir, `${name}.pem`), join(dir, `${name}-key.pem`), ...(values.pkcs12 === true ? [join(dir, `${name}.p12`)] : [])];
  if (!force) for (const t of targets) if (existsSync(t)) throw fileError(`${t} already exists (use --force to overwrite)`);
  writeOut(targets[0]!, node.certPem, false, force);
  writeOut(targets[1]!, node.keyPem, true, force);
  const written: Written[] = [{ kind: `${name} certificate`, path: targets[0]!, description: node.description }, { kind: `${name} private key`, path: targets[1]! }];
  if (values.pkcs12 === true) {
    writeOut(targets[2]!, pki.writePkcs12({ certPem: node.certPem, keyPem: node.keyPem, chainPem: [caCert], password: settings.password!, friendlyName: name,
      ...(keyPassword !== undefined ? { keyPassword } : {}) }), true, force);
    written.push({ kind: `${name} PKCS#12`, path: targets[2]! });
  }
  report(out, written, dir);
  return ExitCode.Ok;
}

/**
 * Every certificate in a PEM bundle, a DER certificate or a PKCS#12 file: the seeds' certificate
 * string and what an operator checks (subjectAltName, SHA-256 fingerprint, key, days to expiry);
 * OpenSSL's purposes table only with --purposes.
 */
async function inspect(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...commonOptions, ...passwordOptions, purposes: { type: 'boolean' } });
  const out = new Output(io, values);
  if (positionals.length !== 1) throw usageError('pki inspect takes one file: dicom-tls pki inspect FILE');
  const file = resolve(io.cwd, positionals[0]!);
  let bytes: Buffer;
  try { bytes = readFileSync(file); } catch (e) { throw fileError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e); }
  const { certificateStringFromDer } = await import('../transport/tls/certificate-string.js');
  const { pemCertificates, summarize, summaryLines, withoutPurposes } = await import('./cert-summary.js');
  const ders: Buffer[] = [];
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN ')) {
    ders.push(...pemCertificates(text));
    if (ders.length === 0) throw new CliError(codeOf('CERTIFICATE', 'TLS'), `${file} holds no PEM certificate (only other PEM blocks, e.g. a key)`);
  } else if (/\.(p12|pfx)$/i.test(file) || !looksLikeDerCertificate(bytes)) {
    const password = await readPassword(values, io, 'PKCS#12 password: ');
    const { loadIdentity } = await import('../transport/tls/identity.js');
    const { derOf } = await import('../transport/tls/context.js');
    let id;
    try {
      id = loadIdentity({ pkcs12: file, ...(password !== undefined ? { password } : {}) });
    } catch (e) {
      throw explainIdentityError(e);
    }
    try {
      ders.push(derOf(id.cert), ...id.chain.map((c) => derOf(c)));
    } finally {
      id.free();
    }
  } else {
    ders.push(bytes);
  }
  const certs = ders.map((der) => ({ certificateString: certificateStringFromDer(der), summary: summarize(der) }));
  if (out.json) out.document({ file, certificates: certs.map((c) => ({ certificateString: c.certificateString, ...c.summary })) });
  else {
    out.line(certs.map((c) => [values.purposes === true ? c.certificateString : withoutPurposes(c.certificateString), ...summaryLines(c.summary)].join('\n')).join('\n\n'));
  }
  return ExitCode.Ok;
}

/** A DER certificate is SEQUENCE { SEQUENCE tbsCertificate … }; a PKCS#12 is SEQUENCE { INTEGER 3 … }. */
function looksLikeDerCertificate(b: Buffer): boolean {
  if (b[0] !== 0x30) return false;
  const lenBytes = b[1]! & 0x80 ? (b[1]! & 0x7f) : 0;
  return b[2 + lenBytes] === 0x30;
}

export const command: CommandModule = {
  help,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'init': return init(rest, io);
      case 'issue': return issue(rest, io);
      case 'inspect': return inspect(rest, io);
      case undefined: throw usageError('pki needs an action: init, issue or inspect (see dicom-tls pki --help)');
      default: throw usageError(`unknown pki action "${sub}": use init, issue or inspect`);
    }
  },
};
