import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatNumber,
  formatSpeedRatio,
  formatSpread,
  markdownTable,
  median,
  megabytesPerSecond,
  spread,
} from '../../bench/lib/stats.js';

test('median: odd count takes the middle, even count averages the two middle values, order does not matter', () => {
  assert.equal(median([3]), 3);
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([0.2, 0.1]), 0.15000000000000002);
  const input = [9, 2, 7];
  median(input);
  assert.deepEqual(input, [9, 2, 7], 'the input is not sorted in place');
  assert.throws(() => median([]), RangeError);
});

test('spread: median with min and max', () => {
  assert.deepEqual(spread([0.3, 0.1, 0.2]), { median: 0.2, min: 0.1, max: 0.3 });
  assert.throws(() => spread([]), RangeError);
});

test('formatting: three significant digits, a spread only when the runs differ', () => {
  assert.equal(formatNumber(0.17123), '0.171');
  assert.equal(formatNumber(5.678), '5.68');
  assert.equal(formatNumber(51.96), '52.0');
  assert.equal(formatNumber(1168.4), '1168');
  assert.equal(formatNumber(0), '0');
  assert.equal(formatNumber(Number.NaN), 'n/a');
  assert.equal(formatSpread({ median: 0.171, min: 0.165, max: 0.18 }), '0.171 (0.165–0.180)');
  assert.equal(formatSpread({ median: 2, min: 2, max: 2 }), '2.00');
});

test('speed ratio: other/ours from median times, n/a when either side is missing or zero', () => {
  assert.equal(formatSpeedRatio(1, 2), '2.00×');
  assert.equal(formatSpeedRatio(2, 1), '0.50×');
  assert.equal(formatSpeedRatio(undefined, 1), 'n/a');
  assert.equal(formatSpeedRatio(1, undefined), 'n/a');
  assert.equal(formatSpeedRatio(0, 1), 'n/a');
  assert.equal(formatSpeedRatio(Number.NaN, 1), 'n/a');
});

test('MB/s uses 10^6 bytes and gives NaN for a zero time', () => {
  assert.equal(megabytesPerSecond(52_428_800, 0.1), 524.288);
  assert.ok(Number.isNaN(megabytesPerSecond(1, 0)));
});

test('markdown table pads columns to the widest cell', () => {
  assert.equal(
    markdownTable(['a', 'bb'], [['ccc', 'd']]),
    ['| a   | bb |', '|-----|----|', '| ccc | d  |'].join('\n'),
  );
});
