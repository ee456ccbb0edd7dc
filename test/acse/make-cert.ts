import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';

/**
 * A throw-away self-signed certificate made with the `openssl` CLI at test time (no committed
 * keys). EC P-256 keeps it fast.
 */
export function makeSelfSignedCertificate(subject: string, serial: string): X509Certificate {
  const dir = mkdtempSync(join(tmpdir(), 'acse-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
        '-subj', subject, '-days', '2', '-set_serial', serial,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return new X509Certificate(readFileSync(join(dir, 'cert.pem')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
