/**
 * dcmjs-dimse SCP in its own process (so the bench can read its peak RSS), the way its README
 * builds one: accept every proposed context with an uncompressed transfer syntax, answer C-ECHO
 * and C-STORE. Usage: node dcmjs-dimse-scp.js <json options>, prints "listening" when ready.
 * With outDir, each received dataset is written as a Part 10 file (Dataset.toFile), else dropped.
 */
import dimse from 'dcmjs-dimse';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';

interface Options {
  readonly port: number;
  readonly outDir: string | null;
  readonly maxPdu: number | null;
  readonly tls: { key: string; cert: string; ca: string } | null;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const { Server, Scp, log } = dimse;
const { CEchoResponse, CStoreResponse } = dimse.responses;
const { Status, PresentationContextResult, TransferSyntax } = dimse.constants;
log.setLevel('error');

const UNCOMPRESSED = new Set<string>([TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian]);
let stored = 0;

class BenchScp extends Scp {
  override associationRequested(association: dimse.association.Association): void {
    if (options.maxPdu !== null) association.setMaxPduLength(options.maxPdu);
    for (const c of association.getPresentationContexts()) {
      const context = association.getPresentationContext(c.id);
      const ts = context.getTransferSyntaxUids().find((t) => UNCOMPRESSED.has(t));
      if (ts === undefined) context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      else context.setResult(PresentationContextResult.Accept, ts);
    }
    this.sendAssociationAccept();
  }

  override cEchoRequest(request: dimse.requests.CEchoRequest, callback: (r: dimse.responses.CEchoResponse) => void): void {
    const response = CEchoResponse.fromRequest(request);
    response.setStatus(Status.Success);
    callback(response);
  }

  override cStoreRequest(request: dimse.requests.CStoreRequest, callback: (r: dimse.responses.CStoreResponse) => void): void {
    const response = CStoreResponse.fromRequest(request);
    const dataset = request.getDataset();
    if (options.outDir === null || dataset === undefined) {
      response.setStatus(Status.Success);
      callback(response);
      return;
    }
    stored++;
    dataset.toFile(join(options.outDir, `${stored}.dcm`), (error) => {
      response.setStatus(error === undefined ? Status.Success : Status.ProcessingFailure);
      callback(response);
    });
  }

  override associationReleaseRequested(): void {
    this.sendAssociationReleaseResponse();
  }
}

const server = new Server(BenchScp);
server.on('networkError', (e: Error) => process.stderr.write(`networkError: ${e.message}\n`));
server.listen(options.port, {
  ...(options.tls === null
    ? {}
    : {
        securityOptions: {
          key: readFileSync(options.tls.key),
          cert: readFileSync(options.tls.cert),
          ca: readFileSync(options.tls.ca),
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.3',
        },
      }),
});
process.stdout.write('listening\n');
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
