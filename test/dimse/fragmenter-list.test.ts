import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fragmentCommandBatches, inMemoryMessageFragments } from '../../src/dimse/fragmenter.js';
import type { DimseCommand } from '../../src/dimse/messages.js';
import type { PresentationDataValue } from '../../src/ul/pdu/types.js';
import { rng } from '../helpers/random.js';


const plain = (pdvs: Iterable<PresentationDataValue>): unknown[] =>
  [...pdvs].map((p) => ({ id: p.presentationContextId, command: p.isCommand, last: p.isLast, data: Buffer.from(p.data).toString('hex') }));

function generic(command: DimseCommand, dataset: Uint8Array, options: { presentationContextId: number; maxPduLength: number }): unknown {
  try {
    return plain(fragmentCommandBatches(command, dataset, options) as Iterable<PresentationDataValue>);
  } catch (error) {
    return `${(error as Error).constructor.name}: ${(error as Error).message}`;
  }
}

test('the PDV list of a message with its data set in one buffer is the fragmenter\'s, for any size and Maximum Length', () => {
  const r = rng(5);
  let listed = 0;
  for (let i = 0; i < 3000; i++) {
    const length = [0, 1, 2, 3, 100, 101, 4096, Math.floor(r() * 5000)][Math.floor(r() * 8)]!;
    const dataset = Buffer.alloc(length);
    for (let k = 0; k < length; k++) dataset[k] = Math.floor(r() * 256);
    const maxPduLength = [0, 7, 8, 9, 100, 101, 1000, 16384, Math.floor(r() * 6000)][Math.floor(r() * 9)]!;
    const presentationContextId = r() < 0.95 ? 1 + 2 * Math.floor(r() * 127) : 2;
    const command = (r() < 0.9
      ? { type: 'C-STORE-RQ', messageId: 1 + Math.floor(r() * 65535), affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.7', affectedSopInstanceUid: '1.2.3.' + Math.floor(r() * 1e9), priority: 0 }
      : r() < 0.5
        ? { type: 'C-ECHO-RQ', messageId: 1, affectedSopClassUid: '1.2.840.10008.1.1' }
        : { type: 'C-STORE-RQ', messageId: 70000, affectedSopClassUid: '1.2', affectedSopInstanceUid: '1.3', priority: 0 }) as DimseCommand;
    const options = { presentationContextId, maxPduLength };
    const expected = generic(command, dataset, options);
    let list: PresentationDataValue[] | undefined;
    try {
      list = inMemoryMessageFragments(command, dataset, options);
    } catch (error) {
      assert.equal(`${(error as Error).constructor.name}: ${(error as Error).message}`, expected, `case ${i}`);
      continue;
    }
    if (list === undefined) continue;
    assert.deepEqual(plain(list), expected, `case ${i}: ${length} bytes, Maximum Length ${maxPduLength}`);
    // Views of the data set, not copies.
    for (const p of list.slice(1)) assert.equal(p.data.buffer, dataset.buffer);
    listed++;
  }
  assert.ok(listed > 300, `only ${listed} listed`);
});
