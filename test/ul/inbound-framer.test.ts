import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InboundFramer, type InboundItem } from '../../src/ul/inbound-framer.js';
import { TransportMismatchError } from '../../src/ul/upper-layer-errors.js';

/** Feed `bytes` cut after `cut` bytes; return what the framer produced. */
function frame(bytes: Uint8Array, cut: number): InboundItem[] {
  const out: InboundItem[] = [];
  const framer = new InboundFramer({ maxPduLength: 16384 });
  framer.push(bytes.subarray(0, cut), true, 'acceptor', out);
  framer.push(bytes.subarray(cut), true, 'acceptor', out);
  return out;
}

test('another protocol on the port is recognised whatever the chunking of its first bytes', () => {
  const cases = [
    { bytes: new TextEncoder().encode('GET / HTTP/1.1\r\n'), detected: 'http' },
    { bytes: Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc), detected: 'tls' },
  ];
  for (const { bytes, detected } of cases) {
    for (let cut = 1; cut < bytes.length; cut++) {
      const out = frame(bytes, cut);
      assert.equal(out.length, 1, `${detected}, split after ${cut}`);
      const item = out[0]!;
      assert.ok(item.kind === 'invalid' && item.error instanceof TransportMismatchError, `${detected}, split after ${cut}: ${JSON.stringify(item)}`);
      assert.equal(item.error.detected, detected);
    }
  }
});
