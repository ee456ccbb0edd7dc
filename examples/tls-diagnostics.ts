/**
 * The library never logs: it publishes on node:diagnostics_channel. This subscriber prints the
 * TLS layer's messages for one connection: every verify call, the alerts, and the outcome.
 *
 *   node dist/examples/tls-diagnostics.js --port 4433 --ca ca.pem
 *
 * In your own project, import from 'dicom-tls' instead of '../src/index.js'.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { parseArgs } from 'node:util';
import { SecureContext, SecureSocket, channelNames, type AlertInfo, type TlsHandshakeError } from '../src/index.js';

const { values } = parseArgs({
  options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, ca: { type: 'string' } },
});
if (values.port === undefined || values.ca === undefined) {
  console.error('usage: tls-diagnostics --port N --ca ca.pem [--host H]');
  process.exit(2);
}

diagnosticsChannel.subscribe(channelNames.tlsVerify, (message) => {
  const m = message as { depth: number; ok: number; error: number; errorString: string; result: number };
  console.log(`verify depth=${m.depth} ok=${m.ok} error=${m.error} (${m.errorString}) -> ${m.result}`);
});
diagnosticsChannel.subscribe(channelNames.tlsInfo, (message) => {
  const m = message as { alert: AlertInfo | undefined };
  if (m.alert !== undefined) console.log(`alert ${m.alert.direction} ${m.alert.level} "${m.alert.description}"`);
});
diagnosticsChannel.subscribe(channelNames.tlsHandshake, (message) => {
  const m = message as { protocol: string; cipher: string; alpn: string | undefined; resumed: boolean };
  console.log(`handshake ${m.protocol} ${m.cipher} resumed=${m.resumed}`);
});
diagnosticsChannel.subscribe(channelNames.tlsHandshakeFailed, (message) => {
  const m = message as { error: TlsHandshakeError };
  console.log(`handshake failed: ${m.error.message}`);
});

// No callbacks on the context: the channels report OpenSSL's default behaviour.
const context = new SecureContext({ role: 'client', ca: [values.ca] });
try {
  const socket = await SecureSocket.connect({ host: values.host, port: Number(values.port), context });
  socket.end();
  socket.resume();
  await new Promise((resolve) => socket.once('close', resolve));
} catch {
  process.exitCode = 1; // already reported on dicom-tls:tls:handshake-failed
} finally {
  context.dispose();
}
