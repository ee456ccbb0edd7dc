/**
 * dcmjs-dimse SCU in its own process, timing itself in-process (the library figure, without
 * Node's start-up). Usage: node dcmjs-dimse-scu.js <json options>; prints {"seconds": n} on
 * success, exits non-zero if any request failed or the association did not complete.
 */
import dimse from 'dcmjs-dimse';
import { readFileSync } from 'node:fs';

interface Options {
  readonly mode: 'store' | 'echo' | 'concurrent';
  readonly port: number;
  readonly tls: { key: string; cert: string; ca: string } | null;
  readonly files?: readonly string[];
  readonly filesPerClient?: readonly (readonly string[])[];
  readonly count?: number;
}

const options = JSON.parse(readFileSync(0, 'utf8')) as Options;
const { Client, log } = dimse;
const { CStoreRequest, CEchoRequest } = dimse.requests;
const { Status } = dimse.constants;
log.setLevel('error');

const securityOptions =
  options.tls === null
    ? undefined
    : {
        key: readFileSync(options.tls.key),
        cert: readFileSync(options.tls.cert),
        ca: readFileSync(options.tls.ca),
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
      };

/** One association carrying the given requests; resolves when it is closed, rejects on any failure. */
function associate(requests: dimse.requests.Request[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let failed: Error | undefined;
    let answered = 0;
    for (const request of requests) {
      request.on('response', (response: dimse.responses.Response) => {
        answered++;
        if (response.getStatus() !== Status.Success) failed ??= new Error(`status 0x${response.getStatus().toString(16)}`);
      });
      client.addRequest(request);
    }
    client.on('associationRejected', () => (failed ??= new Error('association rejected')));
    client.on('networkError', (e: Error) => (failed ??= e));
    client.on('closed', () => {
      if (failed === undefined && answered < requests.length) failed = new Error(`${answered}/${requests.length} answered`);
      if (failed === undefined) resolve();
      else reject(failed);
    });
    client.send('127.0.0.1', options.port, 'BENCHSCU', 'DCMJSSCP', {
      ...(securityOptions === undefined ? {} : { securityOptions }),
    });
  });
}

const start = process.hrtime.bigint();
if (options.mode === 'store') {
  await associate((options.files ?? []).map((f) => new CStoreRequest(f)));
} else if (options.mode === 'concurrent') {
  await Promise.all((options.filesPerClient ?? []).map((files) => associate(files.map((f) => new CStoreRequest(f)))));
} else {
  for (let i = 0; i < (options.count ?? 0); i++) await associate([new CEchoRequest()]);
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
process.stdout.write(`${JSON.stringify({ seconds })}\n`);
