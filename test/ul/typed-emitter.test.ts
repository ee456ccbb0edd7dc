/** The upper layer's emitter: on/off/once as before the listener lists were edited by index. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypedEmitter } from '../../src/ul/upper-layer-events.js';

interface Events { a: (n: number) => void; b: () => void }
class Emitter extends TypedEmitter<Events> {
  readonly errors: unknown[] = [];
  constructor() { super((_e, error) => void this.errors.push(error)); }
  fire<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void { this.emit(event, ...args); }
}

test('off removes a listener and a once wrapper of it, leaves the others in order, and ignores strangers', () => {
  const e = new Emitter();
  const seen: string[] = [];
  const f = (n: number): void => void seen.push(`f${n}`);
  const g = (n: number): void => void seen.push(`g${n}`);
  const h = (n: number): void => void seen.push(`h${n}`);
  e.on('a', g).on('a', f).once('a', f).on('a', h).on('a', f); // the second on(f) is a duplicate: ignored
  assert.equal(e.listenerCount('a'), 4);
  e.off('a', (() => undefined) as (n: number) => void);
  e.off('b', f as unknown as () => void);
  assert.equal(e.listenerCount('a'), 4);
  e.off('a', f);
  assert.equal(e.listenerCount('a'), 2);
  e.fire('a', 1);
  assert.deepEqual(seen, ['g1', 'h1']);
  e.off('a', g).off('a', h);
  assert.equal(e.listenerCount('a'), 0);
  e.fire('a', 2);
  assert.deepEqual(seen, ['g1', 'h1']);
});

test('once fires once; a listener removed during an emit still sees that emit, not the next', () => {
  const e = new Emitter();
  const seen: string[] = [];
  const late = (n: number): void => void seen.push(`late${n}`);
  e.once('a', (n) => void seen.push(`once${n}`));
  e.on('a', (n) => { seen.push(`first${n}`); e.off('a', late); });
  e.on('a', late);
  e.fire('a', 1);
  e.fire('a', 2);
  assert.deepEqual(seen, ['once1', 'first1', 'late1', 'first2']);
  assert.equal(e.listenerCount('a'), 1);
});

test('a throwing listener is reported and the others still run', () => {
  const e = new Emitter();
  let ran = false;
  e.on('b', () => { throw new Error('boom'); }).on('b', () => { ran = true; });
  e.fire('b');
  assert.equal(ran, true);
  assert.equal((e.errors[0] as Error).message, 'boom');
});
