/** The one-PDV shortcut of decodePdu gives what the full decoder gives, for P-DATA-TF PDUs of every shape. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAnyPdu, decodePdu } from '../../../src/ul/pdu/decode.js';
import { rng } from '../../helpers/random.js';


function outcome(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): unknown {
  try {
    return { pdu: decode(bytes) };
  } catch (error) {
    return { error: `${(error as Error).constructor.name}: ${(error as Error).message}` };
  }
}

/** A P-DATA-TF of one or more PDV items, then now and then a header field or the length damaged. */
function randomPData(r: () => number): Uint8Array {
  const items: Buffer[] = [];
  const count = r() < 0.8 ? 1 : 1 + Math.floor(r() * 3);
  for (let i = 0; i < count; i++) {
    const value = Buffer.alloc(Math.floor(r() * 40));
    for (let k = 0; k < value.length; k++) value[k] = Math.floor(r() * 256);
    const item = Buffer.alloc(6 + value.length);
    item.writeUInt32BE(2 + value.length, 0);
    item[4] = r() < 0.9 ? 1 + 2 * Math.floor(r() * 127) : Math.floor(r() * 256);
    item[5] = Math.floor(r() * 4) | (r() < 0.05 ? 0xf0 : 0);
    value.copy(item, 6);
    items.push(item);
  }
  const body = Buffer.concat(items);
  const pdu = Buffer.alloc(6 + body.length);
  pdu[0] = 0x04;
  pdu.writeUInt32BE(body.length, 2);
  body.copy(pdu, 6);
  const x = r();
  if (x < 0.05) pdu.writeUInt32BE(Math.floor(r() * (body.length + 8)), 2);
  else if (x < 0.1) pdu.writeUInt32BE(Math.floor(r() * (body.length + 8)), 6);
  else if (x < 0.13) pdu[1] = 0xff;
  else if (x < 0.16) return pdu.subarray(0, Math.floor(r() * pdu.length));
  return pdu;
}

test('decodePdu gives the full decoder\'s P-DATA-TF, or its error, for one and several PDVs, damaged or not', () => {
  const r = rng(8);
  let single = 0;
  for (let i = 0; i < 20_000; i++) {
    const bytes = randomPData(r);
    const expected = outcome(decodeAnyPdu, bytes);
    assert.deepEqual(outcome(decodePdu, bytes), expected, `case ${i}: ${Buffer.from(bytes).toString('hex')}`);
    if ('pdu' in (expected as object) && (expected as { pdu: { pdvs: unknown[] } }).pdu.pdvs.length === 1) single++;
  }
  assert.ok(single > 10_000, `only ${single} single-PDV PDUs`);
});
