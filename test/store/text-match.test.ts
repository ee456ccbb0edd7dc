import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { personNameMatches, textMatches } from '../../src/store/text-match.js';
import { hangGuard } from '../helpers/hang-guard.js';

test('wildcards: * any run, ? one code point, the rest literal, case folding on request', () => {
  const cases: readonly (readonly [value: string, key: string, ci: boolean, expected: boolean])[] = [
    ['DOE^JOHN', 'DOE*', false, true],
    ['DOE^JOHN', '*JOHN', false, true],
    ['DOE^JOHN', 'D?E*N', false, true],
    ['DOE^JOHN', 'd?e*', false, false],
    ['DOE^JOHN', 'd?e*', true, true],
    ['DOE^JOHN', '*X*', false, false],
    ['DOE^JOHN', '**DOE**JOHN**', false, true],
    ['DOE', '????', false, false],
    ['DOE', '???', false, true],
    ['😀A', '?A', false, true],
    ['A.B', 'A?B', false, true],
    ['AXB', 'A.B*', false, false],
    ['line\nbreak', 'line*break', false, true],
    ['', '*', false, true],
    ['', '?', false, false],
    ['abcabd', '*ab?', false, true],
    ['aab', '*a*ab', false, true],
  ];
  for (const [value, key, ci, expected] of cases) {
    assert.equal(textMatches(value, key, ci), expected, `${JSON.stringify(value)} against ${JSON.stringify(key)}`);
  }
});

/**
 * The index runs in the server's one thread: a key whose matching backtracks over every way of
 * splitting the value between its `*`s holds every association and the health port. Run in a
 * worker so that such a key fails the test instead of holding the test runner.
 */
test('wildcard keys with many * against names that almost match are answered (no backtracking blow-up)', { timeout: 180_000 }, async () => {
  const url = new URL('../../src/store/text-match.js', import.meta.url).href;
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     import(${JSON.stringify(url)}).then(({ personNameMatches, textMatches }) => {
       const name = 'A'.repeat(40);
       parentPort.postMessage([
         personNameMatches(name, '*'.repeat(40) + 'B', false),
         textMatches(name, '*A'.repeat(40) + '*B', false),
         personNameMatches(name + '=' + name, '*A*'.repeat(30) + 'A', true),
         personNameMatches('DOE^JOHN', '*'.repeat(60) + 'a', false),
       ]);
     });`,
    { eval: true },
  );
  try {
    const answers = await hangGuard(new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); }), 'wildcard matching', 90_000);
    assert.deepEqual(answers, [false, false, true, false]);
  } finally {
    await worker.terminate();
  }
  assert.equal(personNameMatches('DOE^JOHN', '*J*', false), true);
});
