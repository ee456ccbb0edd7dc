import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LazyAbort } from '../../src/ae/lazy-abort.js';

test('LazyAbort: a signal asked for after the abort is already aborted, with the first reason', () => {
  const a = new LazyAbort();
  const first = new Error('C-CANCEL-RQ received');
  a.abort(first);
  a.abort(new Error('later'));
  assert.equal(a.signal.aborted, true);
  assert.equal(a.signal.reason, first);
  assert.equal(a.signal, a.signal, 'one signal');
});

test('LazyAbort: a signal asked for before the abort sees the abort event once', () => {
  const a = new LazyAbort();
  const signal = a.signal;
  assert.equal(signal.aborted, false);
  let events = 0;
  signal.addEventListener('abort', () => events++);
  a.abort('gone');
  a.abort('again');
  assert.equal(events, 1);
  assert.equal(signal.reason, 'gone');
});
