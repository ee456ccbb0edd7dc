import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DicomError, InvalidOptionError } from '../src/errors.js';

test('DicomError keeps its stable code, its class name and the cause', () => {
  const cause = new Error('root');
  const e = new InvalidOptionError('port', 'must be 1–65535', { cause });
  assert.ok(e instanceof DicomError);
  assert.equal(e.code, 'DICOM_ERR_INVALID_OPTION');
  assert.equal(e.name, 'InvalidOptionError');
  assert.equal(e.option, 'port');
  assert.equal(e.cause, cause);
  assert.match(e.message, /^port: /);
});
