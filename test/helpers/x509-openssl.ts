/**
 * Small certificate factory for the x509 unit tests, driven by the `openssl` CLI at test time
 * (no committed keys). Independent of src/: the CLI is the oracle the tests compare against.
 * The scenario oracle for the TLS integration tests lives in test/helpers/pki.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function openssl(args: string[], input?: string | Buffer): string {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString('utf8');
}

/** openssl, but returns { status, stdout, stderr } instead of throwing on a non-zero exit. */
export function opensslStatus(args: string[], input?: string): { status: number; out: string } {
  try {
    return { status: 0, out: openssl(args, input) };
  } catch (e) {
    const err = e as { status: number; stdout: Buffer; stderr: Buffer };
    return { status: err.status, out: `${err.stdout.toString()}${err.stderr.toString()}` };
  }
}

export interface CertFiles { cert: string; key: string; dir: string }

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'x509-test-'));
  #n = 0;

  path(name: string): string { return join(this.dir, name); }

  write(name: string, data: string | Buffer): string {
    const p = this.path(name);
    writeFileSync(p, data);
    return p;
  }

  read(name: string): Buffer { return readFileSync(this.path(name)); }

  /**
   * A certificate signed by `issuer` (or self-signed), with `ext` lines as an -extfile section.
   * `days` may be negative-free; use `notBefore`/`notAfter` (YYYYMMDDHHMMSSZ) for odd validity.
   */
  cert(name: string, opts: {
    subj: string; issuer?: CertFiles; ext?: string[]; days?: number; serial?: string;
    keyType?: 'ec' | 'rsa'; /** RSA modulus size (default 2048). */ rsaBits?: number; notBefore?: string; notAfter?: string; utf8?: boolean; multivalue?: boolean;
    /** An X.509 v1 certificate: no extensions at all. */
    v1?: boolean;
  }): CertFiles {
    const key = this.path(`${name}.key`);
    const csr = this.path(`${name}.csr`);
    const cert = this.path(`${name}.pem`);
    const ext = this.write(`${name}.ext`, `[v3]\n${(opts.ext ?? []).join('\n')}\n`);
    if (opts.keyType === 'rsa') openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${opts.rsaBits ?? 2048}`, '-out', key]);
    else openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    openssl(['req', '-new', '-key', key, '-subj', opts.subj, '-out', csr,
      ...(opts.utf8 ? ['-utf8'] : []), ...(opts.multivalue ? ['-multivalue-rdn'] : [])]);
    const serial = opts.serial ?? `0x${(++this.#n).toString(16).padStart(2, '0')}1234abcd`;
    const signer = opts.issuer ?? { cert: '', key };
    if (opts.notBefore || opts.notAfter) {
      // `openssl ca` is the only CLI that takes explicit dates; keep a throwaway database.
      const db = this.write(`${name}.index`, '');
      const conf = this.write(`${name}.cnf`, [
        '[ca]', 'default_ca = d', '[d]', `database = ${db}`, `new_certs_dir = ${this.dir}`,
        `serial = ${this.write(`${name}.srl`, `${serial.replace(/^0x/, '').toUpperCase()}\n`)}`,
        'default_md = sha256', 'policy = p', 'unique_subject = no', 'email_in_dn = no',
        'copy_extensions = none', '[p]', 'commonName = supplied',
        '[v3]', ...(opts.ext ?? []), ''].join('\n'));
      openssl(['ca', '-batch', '-config', conf, '-in', csr, '-out', cert, '-notext',
        '-extfile', conf, '-extensions', 'v3',
        ...(opts.issuer ? ['-cert', opts.issuer.cert, '-keyfile', opts.issuer.key] : ['-selfsign', '-keyfile', key]),
        '-startdate', opts.notBefore ?? '20200101000000Z', '-enddate', opts.notAfter ?? '20400101000000Z']);
    } else {
      openssl(['x509', '-req', '-in', csr, '-out', cert, '-days', String(opts.days ?? 30), '-sha256',
        '-set_serial', serial, ...(opts.v1 ? [] : ['-extfile', ext, '-extensions', 'v3']),
        ...(opts.issuer ? ['-CA', signer.cert, '-CAkey', signer.key] : ['-signkey', key])]);
    }
    return { cert, key, dir: this.dir };
  }

  ca(name: string, subj: string, issuer?: CertFiles): CertFiles {
    return this.cert(name, {
      subj, ...(issuer ? { issuer } : {}),
      ext: ['basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign',
        'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always'],
      days: 365,
    });
  }

  leaf(name: string, subj: string, issuer: CertFiles, eku = 'serverAuth, clientAuth'): CertFiles {
    return this.cert(name, {
      subj, issuer,
      ext: ['basicConstraints = CA:FALSE', 'keyUsage = critical, digitalSignature, keyEncipherment',
        `extendedKeyUsage = ${eku}`, 'subjectAltName = DNS:localhost, IP:127.0.0.1'],
      days: 30,
    });
  }

  /** A CRL of `issuer` listing `revoked` (made with `openssl ca -revoke` / `-gencrl`). */
  crl(name: string, issuer: CertFiles, revoked: CertFiles[] = [], format: 'PEM' | 'DER' = 'PEM'): string {
    const db = this.write(`${name}.crlindex`, '');
    const conf = this.write(`${name}.crl.cnf`, [
      '[ca]', 'default_ca = d', '[d]', `database = ${db}`, 'default_md = sha256',
      'default_crl_days = 30', `crlnumber = ${this.write(`${name}.crlnumber`, '01\n')}`, ''].join('\n'));
    for (const r of revoked) {
      openssl(['ca', '-config', conf, '-revoke', r.cert, '-keyfile', issuer.key, '-cert', issuer.cert]);
    }
    const pem = this.path(`${name}.crl.pem`);
    openssl(['ca', '-config', conf, '-gencrl', '-keyfile', issuer.key, '-cert', issuer.cert, '-out', pem]);
    if (format === 'PEM') return pem;
    const der = this.path(`${name}.crl.der`);
    openssl(['crl', '-in', pem, '-outform', 'DER', '-out', der]);
    return der;
  }

  cleanup(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

// ---- the certificate string as the openssl command shows it -----------------------------------

/** "3.0.22" from `openssl version` or `process.versions.openssl`, as [major, minor]. */
function majorMinor(version: string): [number, number] {
  const m = /(\d+)\.(\d+)\.\d+/.exec(version);
  if (!m) throw new Error(`not an OpenSSL version: ${version}`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * OpenSSL's built-in purpose table, in the order `X509_PURPOSE_get0` walks it, per version: the
 * `xstandard` array of crypto/x509/v3_purp.c. 3.0 and 3.1 have nine entries; 3.2.0 added
 * "Code signing" after "Time Stamp signing" (openssl/openssl#18567). Transcribed from OpenSSL's
 * sources, checked below against the `openssl` command's own table for its version.
 */
export function purposeNames(version: string): string[] {
  const [major, minor] = majorMinor(version);
  const names = ['SSL client', 'SSL server', 'Netscape SSL server', 'S/MIME signing', 'S/MIME encryption',
    'CRL signing', 'Any Purpose', 'OCSP helper', 'Time Stamp signing'];
  if (major > 3 || (major === 3 && minor >= 2)) names.push('Code signing');
  return names;
}

/** The OpenSSL that this Node links (what the code under test calls), e.g. "3.5.9". */
export const linkedOpenSslVersion = process.versions.openssl;
/** The `openssl` command's own version, e.g. "3.0.22". */
export const cliOpenSslVersion = /OpenSSL (\S+)/.exec(openssl(['version']))?.[1] ?? 'unknown';

/** The lines of an `openssl x509 -noout -ext …` listing, header line → value line. */
function extensionsFromCli(certPath: string): Map<string, { critical: boolean; value: string[] }> {
  const out = openssl(['x509', '-in', certPath, '-noout', '-ext', 'basicConstraints,keyUsage,extendedKeyUsage']).split('\n');
  const map = new Map<string, { critical: boolean; value: string[] }>();
  for (let i = 0; i < out.length; i++) {
    const m = /^X509v3 ([^:]+):( critical)?\s*$/.exec(out[i]!);
    if (m) map.set(m[1]!, { critical: m[2] !== undefined, value: (out[i + 1] ?? '').split(',').map((s) => s.trim()) });
  }
  return map;
}

/**
 * The answers of a purpose the `openssl` command does not know, for the linked OpenSSL, from the
 * certificate's extensions as the command prints them. Only "Code signing" (3.2 to 3.5) exists:
 * - leaf, check_purpose_code_sign: keyUsage present, critical, with digitalSignature and without
 *   keyCertSign or cRLSign; extendedKeyUsage present with codeSigning and without anyExtendedKeyUsage
 *   or serverAuth.
 * - CA (non_leaf), check_ca(x): the same function as "OCSP helper CA" (check_purpose_ocsp_helper
 *   with non_leaf), in 3.0 as in 3.5, so the command's own answer for that line is the answer.
 * A certificate OpenSSL cannot cache extensions for answers -1 to every purpose; "OCSP helper"
 * (leaf), which is otherwise always 1, shows that case, and it carries over.
 */
function purposeTheCliLacks(name: string, certPath: string, cli: Map<string, string>): [string, string] {
  if (name !== 'Code signing') {
    throw new Error(`no oracle for purpose "${name}" of OpenSSL ${linkedOpenSslVersion} (openssl command ${cliOpenSslVersion})`);
  }
  const ocspLeaf = cli.get('OCSP helper')!;
  const ca = cli.get('OCSP helper CA')!;
  if (ocspLeaf !== 'Yes') return [ocspLeaf, ca];
  const ext = extensionsFromCli(certPath);
  const ku = ext.get('Key Usage');
  const eku = ext.get('Extended Key Usage');
  const leaf = ku !== undefined && ku.critical && ku.value.includes('Digital Signature')
    && !ku.value.includes('Certificate Sign') && !ku.value.includes('CRL Sign')
    && eku !== undefined && eku.value.includes('Code Signing')
    && !eku.value.includes('Any Extended Key Usage') && !eku.value.includes('TLS Web Server Authentication');
  return [leaf ? 'Yes' : 'No', ca];
}

/**
 * The purposes block for the OpenSSL this Node links: its version's table (names and order), each
 * answer as the `openssl` command computes it when the command knows that purpose, else derived
 * as `purposeTheCliLacks` says. Lines are `<name> : <answer>` and `<name> CA : <answer>`.
 */
export function purposeLinesFor(certPath: string, cliLines: string[]): string[] {
  const cli = new Map<string, string>();
  const cliNames: string[] = [];
  for (const line of cliLines) {
    const m = /^(.*?) : (.*)$/.exec(line.trim());
    if (!m) throw new Error(`unexpected purpose line from openssl: ${line}`);
    cli.set(m[1]!, m[2]!);
    if (!m[1]!.endsWith(' CA')) cliNames.push(m[1]!);
  }
  // The transcribed table must describe the command in front of us, or it describes nothing.
  const expectedCliNames = purposeNames(cliOpenSslVersion);
  if (cliNames.join('|') !== expectedCliNames.join('|')) {
    throw new Error(`openssl ${cliOpenSslVersion} prints purposes ${cliNames.join(', ')}; the table says ${expectedCliNames.join(', ')}`);
  }
  const lines: string[] = [];
  for (const name of purposeNames(linkedOpenSslVersion)) {
    const [leaf, ca] = cli.has(name) ? [cli.get(name)!, cli.get(`${name} CA`)!] : purposeTheCliLacks(name, certPath, cli);
    lines.push(`${name} : ${leaf}`, `${name} CA : ${ca}`);
  }
  return lines;
}

/**
 * The seeds' certificate string for a certificate file, rebuilt from the `openssl x509` command:
 * every line but the purposes block is the command's output as it is; the purposes block is the
 * linked OpenSSL's (see purposeLinesFor).
 */
export function certificateStringFromCli(certPath: string): string[] {
  const out = openssl(['x509', '-in', certPath, '-noout', '-nameopt', 'oneline',
    '-subject', '-issuer', '-dates', '-serial', '-purpose']).split('\n');
  const field = (prefix: string): string => {
    const line = out.find((l) => l.startsWith(prefix));
    if (line === undefined) throw new Error(`openssl x509 printed no ${prefix} line`);
    return line.slice(prefix.length);
  };
  const hex = field('serial=').toLowerCase();
  const serial = (hex.length % 2 ? `0${hex}` : hex).match(/../g)!.join(':');
  const isCa = extensionsFromCli(certPath).get('Basic Constraints')?.value.includes('CA:TRUE') ?? false;
  const purposes = out.slice(out.indexOf('Certificate purposes:') + 1).filter((l) => l.trim().length > 0);
  return [
    `Subject Name: ${field('subject=')}`,
    `Issuer Name: ${field('issuer=')}`,
    `Valid From: ${field('notBefore=')}`,
    `Valid To: ${field('notAfter=')}`,
    `Serial Number: ${serial}`,
    `Basic Constraints:${isCa ? 'CA' : 'Not a CA'} (Certificate Authority)`,
    'Certificate purposes:',
    ...purposeLinesFor(certPath, purposes).map((p) => `   ${p}`),
  ];
}
