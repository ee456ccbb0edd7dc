/**
 * Connect to a TLS server with a verify callback that prints every call OpenSSL makes, first in
 * register style (a function in the options), then in class style (a subclass overriding
 * onVerify). Both keep OpenSSL's default decision by returning `ok`.
 *
 *   node dist/examples/verify-callback.js --host 127.0.0.1 --port 4433 --ca ca.pem
 *
 * In your own project, import from 'dicom-tls' instead of '../src/index.js'.
 */
import { parseArgs } from 'node:util';
import {
  SecureContext, SecureSocket, TlsHandshakeError, type VerifyCallback, type VerifyContext,
} from '../src/index.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    ca: { type: 'string' },
    style: { type: 'string', default: 'both' },
  },
});
if (values.port === undefined || values.ca === undefined) {
  console.error('usage: verify-callback --port N --ca ca.pem [--host H] [--style register|class|both]');
  process.exit(2);
}
const port = Number(values.port);
const ca = values.ca;

function show(style: string, ok: 0 | 1, error: number, errorString: string, context: VerifyContext, certificateString: string): void {
  console.log(`[${style}] verify depth=${context.depth} ok=${ok} error=${error} ${context.errorName} "${errorString}"`);
  // The first line of the certificate string (Subject Name: …) names the certificate.
  console.log(`[${style}]   ${certificateString.split('\n')[0]}`);
}

/** Register style: the callback is a function in the options. */
function registerStyle(): SecureContext {
  const verifyCallback: VerifyCallback = (ok, certificateString, error, errorString, context) => {
    show('register', ok, error, errorString, context, certificateString);
    return ok; // keep OpenSSL's decision
  };
  return new SecureContext({ role: 'client', ca: [ca], verifyCallback });
}

/** Class style: a subclass overrides onVerify. */
class PrintingContext extends SecureContext {
  override onVerify(ok: 0 | 1, certificateString: string, error: number, errorString: string, context: VerifyContext): number {
    show('class', ok, error, errorString, context, certificateString);
    return ok;
  }
}

async function connectWith(style: string, context: SecureContext): Promise<void> {
  try {
    const socket = await SecureSocket.connect({ host: values.host!, port, context });
    console.log(`[${style}] connected: ${socket.protocol} ${socket.cipher} verify=${socket.verifyResult?.name}`);
    socket.end();
    socket.resume();
    await new Promise((resolve) => socket.once('close', resolve));
  } catch (e) {
    if (!(e instanceof TlsHandshakeError)) throw e;
    console.log(`[${style}] handshake failed: ${e.code} ${e.message}`);
    process.exitCode = 1;
  } finally {
    context.dispose();
  }
}

if (values.style !== 'class') await connectWith('register', registerStyle());
if (values.style !== 'register') await connectWith('class', new PrintingContext({ role: 'client', ca: [ca] }));
