/** The `limits` object of the serve config file (docs/limits.md): read, checked, named in errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveSettings } from '../../src/cli/serve-config.js';

function withConfig(json: unknown, fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'serve-limits-'));
  try {
    writeFileSync(join(dir, 'c.json'), JSON.stringify(json));
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('serve config "limits": each key read as given, absent keys left to the defaults', () => {
  const limits = { maxBufferedBytes: 1 << 27, maxBufferedBytesPerAssociation: 1 << 25, datasetStallTimeout: 5000, maxQueryMatches: 1000, maxConcurrentQueries: 2, moveTimeout: 5000, maxIdentifierLength: 4096, maxCommitmentRequestLength: 0, handshakeTimeout: 10_000, artimTimeout: 5000, negotiationTimeout: 2000 };
  withConfig({ limits }, (dir) => assert.deepEqual(serveSettings({ config: 'c.json' }, dir).limits, limits));
  withConfig({ limits: { maxQueryMatches: 0 } }, (dir) => assert.deepEqual(serveSettings({ config: 'c.json' }, dir).limits, { maxQueryMatches: 0 }));
  withConfig({}, (dir) => assert.deepEqual(serveSettings({ config: 'c.json' }, dir).limits, {}));
});

test('serve config "limits": an unknown key, a wrong type or a value below the minimum is a usage error naming the field', () => {
  const cases: [unknown, RegExp][] = [
    [{ maxMatches: 5 }, /unknown field "limits\.maxMatches"/],
    [{ maxConcurrentQueries: 0 }, /limits\.maxConcurrentQueries must be a whole number ≥ 1/],
    [{ moveTimeout: '20s' }, /limits\.moveTimeout must be a whole number ≥ 1/],
    [{ maxBufferedBytes: -1 }, /limits\.maxBufferedBytes must be a whole number ≥ 0/],
    [{ maxIdentifierLength: -1 }, /limits\.maxIdentifierLength must be a whole number ≥ 0/],
    [{ handshakeTimeout: 0 }, /limits\.handshakeTimeout must be a whole number ≥ 1/],
    [{ artimTimeout: 1.5 }, /limits\.artimTimeout must be a whole number ≥ 1/],
    [{ negotiationTimeout: 0 }, /limits\.negotiationTimeout must be a whole number ≥ 1/],
    [{ negotiationTimeout: '5s' }, /limits\.negotiationTimeout must be a whole number ≥ 1/],
    [[1], /config limits must be an object/],
  ];
  for (const [limits, message] of cases) {
    withConfig({ limits }, (dir) => assert.throws(() => serveSettings({ config: 'c.json' }, dir), (e: unknown) => message.test(String((e as Error).message))));
  }
});
