/** A small PKI written to a directory for the serve service tests: CA, server, client, CRL. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority, createNodeCertificate, createCrl } from '../../src/transport/tls/pki.js';

export interface ServePki { dir: string; ca: string; server: string; serverKey: string; client: string; clientKey: string; crl: string }

export function writeServePki(dir: string, name: string, o: { serverDays?: number; crlDays?: number } = {}): ServePki {
  mkdirSync(dir, { recursive: true });
  const ca = createCertificateAuthority({ subject: [['CN', `${name} CA`]], keyType: 'ec' });
  const server = createNodeCertificate(ca, { commonName: `${name} server`, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: o.serverDays ?? 825, keyType: 'ec' });
  const client = createNodeCertificate(ca, { commonName: `${name} client`, days: 825, keyType: 'ec' });
  const files = {
    dir, ca: join(dir, 'ca.pem'), server: join(dir, 'server.pem'), serverKey: join(dir, 'server-key.pem'),
    client: join(dir, 'client.pem'), clientKey: join(dir, 'client-key.pem'), crl: join(dir, 'ca.crl'),
  };
  writeFileSync(files.ca, ca.certPem);
  writeFileSync(files.server, server.certPem);
  writeFileSync(files.serverKey, server.keyPem, { mode: 0o600 });
  writeFileSync(files.client, client.certPem);
  writeFileSync(files.clientKey, client.keyPem, { mode: 0o600 });
  writeFileSync(files.crl, createCrl(ca, { days: o.crlDays ?? 30 }));
  return files;
}
