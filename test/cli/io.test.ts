import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { Output, Progress, table } from '../../src/cli/io.js';
import { ExitCode, exitCodeFor, exitCodeTable, formatError, sentence } from '../../src/cli/errors.js';
import { DicomError } from '../../src/errors.js';
import { TlsHandshakeError } from '../../src/transport/tls/errors.js';
import { globToRegExp } from '../../src/cli/files.js';

function sink(isTTY: boolean): Writable & { text: string; isTTY: boolean; columns: number } {
  const w = new Writable({ write(chunk: Buffer, _e, cb) { (w as unknown as { text: string }).text += chunk.toString(); cb(); } }) as Writable & { text: string; isTTY: boolean; columns: number };
  w.text = '';
  w.isTTY = isTTY;
  w.columns = 80;
  return w;
}

test('the progress bar draws only on a terminal, and erases itself', () => {
  const pipe = sink(false);
  const p = new Progress(pipe, 'storing', 3, true);
  p.update(1); p.update(3); p.done();
  assert.equal(pipe.text, '');
  const tty = sink(true);
  const q = new Progress(tty, 'storing', 4, true);
  q.update(4);
  assert.match(tty.text, /\rstoring \[#+\] 4\/4/);
  q.done();
  assert.ok(tty.text.endsWith('\r\x1b[K'));
  const json = new Output({ stdout: sink(true), stderr: tty, stdin: new PassThrough(), env: {}, cwd: '/' }, { json: true });
  assert.equal(json.progress('x', 2).enabled, false, '--json never draws');
});

test('table pads columns to the widest cell', () => {
  assert.equal(table(['a', 'bb'], [['xxx', 'y']]), 'a    bb\n---  --\nxxx  y');
});

test('exit codes: one per class, distinct, and a verify failure is told apart from other handshake failures', () => {
  const codes = exitCodeTable.map((r) => r.exit);
  assert.equal(new Set(codes).size, codes.length);
  const verify = new TlsHandshakeError({ verifyFailure: { depth: 0, error: 26, errorName: 'X509_V_ERR_INVALID_PURPOSE', errorString: 'unsuitable certificate purpose', certificateString: '' } });
  assert.equal(exitCodeFor(verify), ExitCode.PeerCertificateRejected);
  assert.equal(exitCodeFor(new TlsHandshakeError({ message: 'TLS handshake failed: the peer sent the fatal alert "unknown CA" (48)' })), ExitCode.HandshakeFailed);
  assert.equal(exitCodeFor(new DicomError('DICOM_ERR_STORE_IO', 'disk')), ExitCode.Storage);
  assert.equal(exitCodeFor(Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' })), ExitCode.UnknownHost);
  assert.equal(exitCodeFor(new Error('a bug')), ExitCode.Internal);
});

test('errors print as one sentence with the code; the stack only when verbose', () => {
  const e = new DicomError('DICOM_ERR_TIMEOUT', 'no answer within 30000 ms');
  assert.equal(sentence(e), 'No answer within 30000 ms.');
  assert.equal(formatError(e, false), 'error: No answer within 30000 ms. [DICOM_ERR_TIMEOUT]');
  assert.match(formatError(e, true), /\n\s+at /);
});

test('globs: * stays in one folder, ** spans folders', () => {
  assert.ok(globToRegExp('/d/*.dcm').test('/d/a.dcm'));
  assert.ok(!globToRegExp('/d/*.dcm').test('/d/s/a.dcm'));
  assert.ok(globToRegExp('/d/**/*.dcm').test('/d/s/t/a.dcm'));
  assert.ok(globToRegExp('/d/**/*.dcm').test('/d/a.dcm'));
});
