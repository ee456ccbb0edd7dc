/**
 * `dicom-tls echo HOST:PORT`: associate (TLS by default), C-ECHO, release. The simplest proof that
 * the peer is there, that TLS works both ways and that it accepts our AE titles.
 */
import { clientOptions, parse } from './args.js';
import { clientOptionsHelp } from './client-options.js';
import { unavailableError } from './errors.js';
import type { CommandModule } from './command.js';

export const help = `Usage: dicom-tls echo HOST:PORT [options]

Opens an association (DICOM over TLS unless --no-tls), sends C-ECHO (Verification), releases, and
prints the status, the TLS protocol and cipher and the peer's certificate subject. Every failure is
one sentence with its own exit code (dicom-tls help exit-codes).

  --repeat N             send N C-ECHO requests on the association (default 1)

${clientOptionsHelp}

Examples:
  dicom-tls echo localhost:2762 --ca dicom-tls-data/pki/ca.pem \\
      --cert dicom-tls-data/pki/client.pem --key dicom-tls-data/pki/client-key.pem
  dicom-tls echo pacs.example.org:2762 --ca hospital-ca.pem --pkcs12 me.p12 --ask-password --call PACS
  dicom-tls echo localhost:11112 --no-tls --json`;

export const command: CommandModule = {
  help,
  async run(argv) {
    parse(argv, { ...clientOptions, repeat: { type: 'string' } });
    throw unavailableError('echo');
  },
};
