// docs/errors.md must name every error code and every DicomError subclass defined under src/, and
// no code that src/ no longer defines. The check is scripts/error-codes.mjs (plain JS, no build),
// run here the way a maintainer runs it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: dist/test/docs/ is three levels below it. */
const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = join(root, 'scripts', 'error-codes.mjs');

function run(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd: root, timeout: 30_000 }, (error, stdout) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout });
    });
  });
}

let scratch: string;
before(() => { scratch = mkdtempSync(join(tmpdir(), 'dicom-tls-errors-doc-')); });
after(() => rmSync(scratch, { recursive: true, force: true }));

test('docs/errors.md documents every error code and error class of src/', async () => {
  const r = await run(['--check', 'docs/errors.md']);
  assert.equal(r.code, 0, `docs/errors.md is out of date:\n${r.stdout}`);
});

test('the table lists the codes the source defines (the scan finds the TLS, UL and store codes)', async () => {
  const r = await run([]);
  assert.equal(r.code, 0);
  for (const code of ['DICOM_TLS_ERR_HANDSHAKE', 'DICOM_ERR_UL_TLS_ON_PLAIN_PORT', 'DICOM_ERR_STORE_DUPLICATE', 'DICOM_ERR_PART10_TRUNCATED', 'DICOM_ERR_UL_INTERNAL']) {
    assert.match(r.stdout, new RegExp(`\\| \`${code}\` \\|`), code);
  }
  assert.match(r.stdout, /\| `DICOM_ERR_STORE_DUPLICATE` \| `StoreError` \|/);
  assert.match(r.stdout, /\| `DICOM_ERR_UL_INTERNAL` \| `DicomError` \|/);
  assert.match(r.stdout, /\| `DICOM_TLS_ERR_PRIVATE_KEY` \| `UnableToReadPrivateKeyError` \| TLS/);
});

test('the check fails for a new code, a new error class, and a stale code', async () => {
  const src = join(scratch, 'src');
  mkdirSync(join(src, 'ae'), { recursive: true });
  writeFileSync(join(src, 'errors.ts'), readFileSync(join(root, 'src', 'errors.ts')));
  writeFileSync(join(src, 'ae', 'errors.ts'), [
    "import { DicomError } from '../errors.js';",
    'export class PeerGoneError extends DicomError {',
    "  constructor() { super('DICOM_ERR_PEER_GONE', 'gone'); }",
    '}',
    'export class SubError extends PeerGoneError {}',
  ].join('\n'));
  const page = join(scratch, 'errors.md');
  writeFileSync(page, '| `DICOM_ERR_INVALID_OPTION` | `InvalidOptionError` |\n| `DICOM_ERR_TIMEOUT` | `TimeoutError` |\n| `DICOM_ERR_OLD` | `OldError` |\n');
  const r = await run(['--src', src, '--check', page]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stdout, /code missing from .*: DICOM_ERR_PEER_GONE \(PeerGoneError, src\/ae\/errors\.ts\)/);
  assert.match(r.stdout, /error class missing from .*: PeerGoneError/);
  assert.match(r.stdout, /error class missing from .*: SubError/);
  assert.match(r.stdout, /names DICOM_ERR_OLD, which no file under .* defines/);
  assert.doesNotMatch(r.stdout, /InvalidOptionError|TimeoutError|DICOM_ERR_TIMEOUT/);
});
