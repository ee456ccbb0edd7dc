/** The CLI's one-line error never carries a peer's control characters to the terminal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomError } from '../../src/errors.js';
import { formatError } from '../../src/cli/errors.js';

test('control characters in an error message are printed escaped', () => {
  const line = formatError(new DicomError('DICOM_ERR_PDU_MALFORMED', 'peer AE "EVIL\x1b[2J\x07\x9b" refused'), false);
  assert.doesNotMatch(line, /[\x00-\x1f\x7f-\x9f]/);
  assert.match(line, /EVIL\\u001b\[2J\\u0007\\u009b/);
});
