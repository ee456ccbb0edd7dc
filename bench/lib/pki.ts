/**
 * The bench's development PKI, made with the `openssl` CLI at bench time into a temp dir (never
 * committed): one CA, a server and a client certificate, EC P-256, each end-entity with
 * serverAuth+clientAuth so either may be used on either side.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './proc.js';
import type { TlsFiles } from './types.js';

async function endEntity(dir: string, name: string, ca: { cert: string; key: string }): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth,clientAuth',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '',
    ].join('\n'),
  );
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  await run('openssl', ['req', '-new', '-key', key, '-subj', `/CN=${name}.bench.local`, '-out', csr]);
  await run('openssl', [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-days', '2', '-sha256', '-extfile', ext, '-out', cert,
  ]);
  return { cert, key };
}

/** One side's key, certificate and CA, as the child-process peers take them (null: plain TCP). */
export function tlsFor(tls: TlsFiles | undefined, side: 'scp' | 'scu'): { key: string; cert: string; ca: string } | null {
  if (tls === undefined) return null;
  return side === 'scp' ? { key: tls.serverKey, cert: tls.serverCert, ca: tls.caCert } : { key: tls.clientKey, cert: tls.clientCert, ca: tls.caCert };
}

export async function makePki(): Promise<{ dir: string; files: TlsFiles }> {
  const dir = await mkdtemp(join(tmpdir(), 'dicom-tls-bench-pki-'));
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', caKey]);
  await run('openssl', [
    'req', '-x509', '-new', '-key', caKey, '-subj', '/CN=dicom-tls bench CA', '-days', '2', '-sha256',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-out', caCert,
  ]);
  const ca = { cert: caCert, key: caKey };
  const server = await endEntity(dir, 'server', ca);
  const client = await endEntity(dir, 'client', ca);
  return {
    dir,
    files: { caCert, serverCert: server.cert, serverKey: server.key, clientCert: client.cert, clientKey: client.key },
  };
}
