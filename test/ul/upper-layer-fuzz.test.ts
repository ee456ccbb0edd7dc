/**
 * Property: whatever bytes a peer sends, in whatever chunks, the upper layer never throws out of
 * its callbacks, never hangs and always ends in Sta1 with `closed` emitted (over an in-memory
 * Duplex for speed; the socket tests cover the real transport).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';
import fc from 'fast-check';
import { UpperLayer } from '../../src/ul/upper-layer.js';
import { InvalidStateEventError } from '../../src/ul/fsm/errors.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import { acFor, pdata, rqPdu } from './fixtures.js';

const validPrefix = [
  new Uint8Array(0),
  encodePdu(rqPdu()),
  Buffer.concat([encodePdu(rqPdu()), encodePdu(pdata(new Uint8Array([1, 2, 3])))]),
];

test('random bytes after 0–2 valid PDUs: never a throw, never a hang, always Sta1 and closed', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...validPrefix),
      fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 6 }),
      fc.boolean(),
      async (prefix, garbage, peerCloses) => {
        const toUl = new PassThrough();
        const fromUl = new PassThrough();
        fromUl.resume();
        const stream = Duplex.from({ readable: toUl, writable: fromUl });
        const ul = new UpperLayer({ artimTimeout: 5, maxPduLength: 4096 });
        ul.on('associateIndication', (rq) => ul.acceptAssociation(acFor(rq)));
        ul.acceptConnection({ stream, remoteAddress: undefined, remotePort: undefined, localAddress: undefined, localPort: undefined, tls: undefined });
        toUl.write(prefix);
        for (const g of garbage) toUl.write(g);
        if (peerCloses) toUl.end();
        else {
          // Let the bytes through; a peer that then idles in an established association is
          // ended by our user's A-ABORT (in Sta2/Sta13 ARTIM does it, and abort() is refused).
          while (toUl.readableLength > 0) await new Promise((r) => setImmediate(r));
          await new Promise((r) => setImmediate(r));
          try {
            ul.abort();
          } catch (e) {
            assert.ok(e instanceof InvalidStateEventError && (e.state === 'Sta2' || e.state === 'Sta13' || e.state === 'Sta1'), String(e));
          }
        }
        await ul.whenClosed();
        assert.equal(ul.state, 'Sta1');
        stream.destroy();
      },
    ),
    { numRuns: 300 },
  );
});
