/**
 * `dicom-tls echo HOST:PORT`: associate (TLS by default), C-ECHO, release. The simplest proof that
 * the peer is there, that TLS works both ways and that it accepts our AE titles.
 */
import { clientOptions, parse } from './args.js';
import { clientOptionsHelp, clientSettings } from './client-options.js';
import { ExitCode, usageError } from './errors.js';
import { Output } from './io.js';
import { connectClient, releaseAfter } from './connect.js';
import type { CommandModule } from './command.js';

export const help = `Usage: dicom-tls echo HOST:PORT [options]

Opens an association (DICOM over TLS unless --no-tls), sends C-ECHO (Verification), releases, and
prints the status, the TLS protocol and cipher and the peer's certificate subject. Every failure is
one sentence with its own exit code (dicom-tls help exit-codes).

  --repeat N             send N C-ECHO requests on the association (default 1)

${clientOptionsHelp}

Examples:
  dicom-tls echo localhost:2762 --call DICOM-TLS --ca dicom-tls-data/pki/ca.pem \\
      --cert dicom-tls-data/pki/client.pem --key dicom-tls-data/pki/client-key.pem
  dicom-tls echo pacs.example.org:2762 --ca hospital-ca.pem --pkcs12 me.p12 --ask-password --call PACS
  dicom-tls echo pacs:11112 --no-tls --call PACS --json`;

export const command: CommandModule = {
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...clientOptions, repeat: { type: 'string' } });
    const out = new Output(io, values);
    if (positionals.length > 1) throw usageError(`echo takes one HOST:PORT, got ${positionals.length} arguments`);
    const repeat = values.repeat === undefined ? 1 : Number(values.repeat);
    if (!Number.isInteger(repeat) || repeat < 1) throw usageError(`--repeat must be a whole number ≥ 1, got "${values.repeat}"`);
    const settings = await clientSettings(values, positionals[0], io);
    const started = Date.now();
    const connection = await connectClient(settings);
    const statuses = await releaseAfter(connection, out, async (client) => {
      const all: number[] = [];
      for (let i = 0; i < repeat; i++) all.push((await client.echo()).status);
      return all;
    });
    const ms = Date.now() - started;
    const tls = connection.client.tls;
    // peerSubject is printed by OpenSSL: node:crypto (~5 ms) is not loaded for one line.
    const peer = (tls === undefined ? undefined : 'peerSubject' in tls ? tls.peerSubject : tls.peerCertificate?.subject)?.replace(/\n/g, ', ');
    if (out.json) {
      out.document({
        peer: `${settings.host}:${settings.port}`, callingAeTitle: settings.callingAeTitle, calledAeTitle: settings.calledAeTitle,
        tls: tls === undefined ? null : { protocol: tls.protocol, cipher: tls.cipher, peerCertificate: peer ?? null },
        echo: statuses.map((s) => ({ status: s, statusName: s === 0 ? 'Success' : `0x${s.toString(16).padStart(4, '0')}` })),
        milliseconds: ms,
      });
    } else {
      const over = tls === undefined ? 'plain DICOM (no TLS)' : `${tls.protocol} ${tls.cipher}${peer !== undefined ? `, peer ${peer}` : ''}`;
      out.line(`C-ECHO ${settings.callingAeTitle} → ${settings.calledAeTitle}@${settings.host}:${settings.port}: Success${repeat > 1 ? ` (${repeat} times)` : ''} over ${over} in ${ms} ms`);
    }
    return ExitCode.Ok;
  },
};
