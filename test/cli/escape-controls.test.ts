/**
 * One visible form for control characters, in the one-line error and in serve's text log alike
 * (src/cli/escape-controls.ts): `\n`, `\r`, `\t`, else `\u` and four hex digits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { DicomError } from '../../src/errors.js';
import { escapeControls } from '../../src/cli/escape-controls.js';
import { formatError } from '../../src/cli/errors.js';
import { createServeLog } from '../../src/cli/serve-log.js';

test('C0, DEL, C1 and U+2028/U+2029 are escaped; other text, backslashes included, is left as it is', () => {
  assert.equal(escapeControls('a\nb\rc\td'), 'a\\nb\\rc\\td');
  assert.equal(escapeControls('\u0000\u0007\u001b[2J\u007f\u0085\u009b\u2028\u2029'), '\\u0000\\u0007\\u001b[2J\\u007f\\u0085\\u009b\\u2028\\u2029');
  const plain = 'Ж é \u00a0 \u2027 \u202a \\ISO 2022 IR 87 😀';
  assert.equal(escapeControls(plain), plain);
  for (let c = 0; c < 0x3000; c++) {
    const out = escapeControls(String.fromCharCode(c));
    assert.doesNotMatch(out, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/, `U+${c.toString(16)}`);
  }
});

test('the error line and the text log spell a peer\'s control characters the same way', () => {
  const peer = 'EVIL\u001b[2J\u0007\u0085\u009b';
  const line = formatError(new DicomError('DICOM_ERR_PDU_MALFORMED', `peer AE "${peer}" refused`), false);
  let written = '';
  const out = new Writable({ write(chunk: Buffer, _e, cb) { written += chunk.toString(); cb(); } });
  createServeLog(out, { format: 'text' })('association', `peer AE "${peer}" refused`);
  const visible = 'EVIL\\u001b[2J\\u0007\\u0085\\u009b';
  assert.ok(line.includes(visible), line);
  assert.ok(written.includes(visible), written);
});
