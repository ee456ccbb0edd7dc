/**
 * A client holding several identities picks the one the server accepts. The server names the
 * issuers it trusts in its CertificateRequest; the client-certificate callback receives them and
 * returns the identity issued by one of them (or undefined to send no certificate).
 *
 *   node dist/examples/client-certificate-callback.js --port 4433 --ca server-ca.pem \
 *     --identity a-cert.pem,a-key.pem --identity b-cert.pem,b-key.pem
 *
 * In your own project, import from 'dicom-tls' instead of '../src/index.js'.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SecureContext, SecureSocket, TlsHandshakeError, type IdentityOptions } from '../src/index.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    ca: { type: 'string' },
    identity: { type: 'string', multiple: true, default: [] },
  },
});
if (values.port === undefined || values.ca === undefined) {
  console.error('usage: client-certificate-callback --port N --ca ca.pem --identity cert.pem,key.pem ...');
  process.exit(2);
}

/** Each identity with its issuer's DER name, to compare with what the server sends. */
const identities = values.identity.map((pair) => {
  const [cert, key] = pair.split(',');
  if (cert === undefined || key === undefined) throw new Error(`--identity wants cert.pem,key.pem, got ${pair}`);
  const x509 = new X509Certificate(readFileSync(cert));
  return { cert, key, subject: x509.subject.replace(/\n/g, ', '), issuer: x509.issuer.replace(/\n/g, ', ') };
});

const context = new SecureContext({
  role: 'client',
  ca: [values.ca],
  clientCertificateCallback: (request): IdentityOptions | undefined => {
    console.log(`server accepts ${request.acceptableIssuers.length} issuer(s):`);
    for (const name of request.acceptableIssuers) console.log(`  ${name}`);
    // acceptableIssuers uses OpenSSL's one-line form ("CN = CA-B, O = ..."); compare by the CN.
    const wanted = new Set(request.acceptableIssuers.map((n) => /CN = ([^,]+)/.exec(n)?.[1]));
    const chosen = identities.find((id) => wanted.has(/CN=([^,]+)/.exec(id.issuer)?.[1]));
    console.log(chosen === undefined ? 'no identity fits: sending none' : `sending ${chosen.subject} (issued by ${chosen.issuer})`);
    return chosen === undefined ? undefined : { cert: chosen.cert, key: chosen.key };
  },
});

try {
  const socket = await SecureSocket.connect({ host: values.host, port: Number(values.port), context });
  console.log(`connected: ${socket.protocol} ${socket.cipher}`);
  // With TLS 1.3 the client's handshake ends before the server has checked the client
  // certificate: a refusal arrives as an alert on the first read, so wait for it here.
  const failure = new Promise<Error | undefined>((resolve) => {
    socket.once('error', resolve);
    socket.once('close', () => resolve(undefined));
  });
  socket.end('hello\n');
  socket.resume();
  const error = await failure;
  if (error !== undefined) {
    console.log(`the server closed the connection: ${(error as { code?: string }).code} ${error.message}`);
    process.exitCode = 1;
  }
} catch (e) {
  if (!(e instanceof TlsHandshakeError)) throw e;
  console.log(`handshake failed: ${e.code} ${e.message}`);
  process.exitCode = 1;
} finally {
  context.dispose();
}
