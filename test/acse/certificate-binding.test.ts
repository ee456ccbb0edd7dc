import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCertificateBinding, certificateMatches, type CertificateBinding } from '../../src/acse/certificate-binding.js';
import { makeSelfSignedCertificate } from './make-cert.js';

const certA = makeSelfSignedCertificate('/O=dicom-tls test/CN=MODALITY_A', '0x0a1b2c');
const certB = makeSelfSignedCertificate('/O=dicom-tls test/CN=MODALITY_B', '0x77');

test('certificate identities: fingerprint, subject, issuer + serial (formatting not significant)', () => {
  const fp = certA.fingerprint256;
  assert.ok(certificateMatches(certA, { sha256Fingerprint: fp }));
  assert.ok(certificateMatches(certA, { sha256Fingerprint: fp.replace(/:/g, '').toLowerCase() }));
  assert.ok(!certificateMatches(certB, { sha256Fingerprint: fp }));
  assert.ok(certificateMatches(certA, { subject: 'O=dicom-tls test\nCN=MODALITY_A' }));
  assert.ok(certificateMatches(certA, { subject: '  O=dicom-tls test \n CN=MODALITY_A\n' }));
  assert.ok(!certificateMatches(certA, { subject: 'O=dicom-tls test\nCN=MODALITY_B' }));
  assert.ok(certificateMatches(certA, { issuer: certA.issuer, serialNumber: '00:0a:1b:2c' }));
  assert.ok(certificateMatches(certA, { issuer: certA.issuer, serialNumber: 'A1B2C' }));
  assert.ok(!certificateMatches(certA, { issuer: certA.issuer, serialNumber: '0A1B2D' }));
  assert.ok(!certificateMatches(certA, { issuer: certB.issuer, serialNumber: '0A1B2C' }));
});

test('binding rules, accept and reject with a reason that says what did not match', () => {
  const bindings: CertificateBinding[] = [
    { aeTitle: 'MODALITY_A', certificates: [{ sha256Fingerprint: certA.fingerprint256 }] },
    { aeTitle: 'MODALITY_B ', certificates: [{ subject: certB.subject }, { sha256Fingerprint: '00' }] },
  ];
  const cases: { name: string; aet: string; cert: typeof certA | undefined; require?: boolean; ok: boolean; why?: RegExp }[] = [
    { name: 'A with its cert', aet: 'MODALITY_A', cert: certA, ok: true },
    { name: 'B with its cert (padded title in binding)', aet: 'MODALITY_B', cert: certB, ok: true },
    { name: 'A with B cert', aet: 'MODALITY_A', cert: certB, ok: false, why: new RegExp(`bound to sha256 ${certA.fingerprint256}.*peer certificate has sha256 ${certB.fingerprint256}.*CN=MODALITY_B`) },
    { name: 'A without a certificate', aet: 'MODALITY_A', cert: undefined, ok: false, why: /presented none/ },
    { name: 'unbound title, unbound cert', aet: 'OTHER', cert: makeSelfSignedCertificate('/CN=OTHER', '0x1'), ok: true },
    { name: 'unbound title, no cert', aet: 'OTHER', cert: undefined, ok: true },
    { name: 'bound cert claims unbound title', aet: 'OTHER', cert: certA, ok: false, why: /bound to AE title\(s\) 'MODALITY_A', not to calling AE title 'OTHER'/ },
    { name: 'unbound title when required', aet: 'OTHER', cert: undefined, require: true, ok: false, why: /no certificate binding/ },
  ];
  for (const c of cases) {
    const r = checkCertificateBinding(c.aet, c.cert, bindings, { requireBinding: c.require === true });
    if (c.ok) assert.equal(r, undefined, c.name);
    else {
      assert.equal(typeof r, 'string', c.name);
      assert.match(r!, c.why!, c.name);
    }
  }
});
