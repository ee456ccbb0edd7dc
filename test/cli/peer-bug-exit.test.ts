/**
 * An error docs/errors.md calls "a peer bug" is the peer's, not ours: the CLI never exits 1
 * ("unexpected internal error, a bug: report it") for it, whichever layer detects it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DicomError } from '../../src/errors.js';
import { ExitCode, exitCodeFor } from '../../src/cli/errors.js';

test('every code errors.md calls a peer bug has an exit code of its class, not 1', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const peerBugs = [...doc.matchAll(/^\| `(DICOM_[A-Z0-9_]+)` \|.*\| A peer bug/gm)].map((m) => m[1]!);
  assert.ok(peerBugs.length >= 5, `found ${peerBugs.join(', ')}`);
  for (const code of peerBugs) assert.notEqual(exitCodeFor(new DicomError(code, 'x')), ExitCode.Internal, code);
});
