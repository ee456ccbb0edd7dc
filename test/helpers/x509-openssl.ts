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
