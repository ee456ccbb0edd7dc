/**
 * ARTIM after the event loop was held: timers run before the loop reads its sockets, so a loop
 * held past ARTIM (a busy or starved process) reaches the timer with the PDU or close it waits
 * for already in the socket. That is the peer answering in time, not a silent peer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { UpperLayer } from '../../src/ul/upper-layer.js';
import { encodePdu } from '../../src/ul/pdu/encode.js';
import { loopback, plainTransport } from '../helpers/loopback.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { acFor, rqPdu } from './fixtures.js';

const ARTIM = 100;

/** Holds the event loop (as a long synchronous step or a starved process would) past ARTIM. */
function holdLoop(): void {
  const until = performance.now() + 3 * ARTIM;
  while (performance.now() < until);
}

async function acceptorWithRawPeer() {
  const lb = await loopback();
  const ul = new UpperLayer({ artimTimeout: ARTIM });
  ul.on('protocolError', () => undefined);
  ul.on('associateIndication', (rq) => ul.acceptAssociation(acFor(rq)));
  const raw = net.connect(lb.port, '127.0.0.1');
  ul.acceptConnection(plainTransport(await lb.nextAccepted()));
  await once(raw, 'connect');
  return { lb, ul, peer: new ScriptedPeer(raw) };
}

test('ARTIM in Sta2: an A-ASSOCIATE-RQ waiting unread after the loop was held past ARTIM is answered', async () => {
  const { lb, ul, peer } = await acceptorWithRawPeer();
  try {
    peer.write(encodePdu(rqPdu()));
    holdLoop();
    assert.equal((await peer.nextPdu())?.[0], 0x02, 'A-ASSOCIATE-AC, not a close by ARTIM');
    assert.equal(ul.state, 'Sta6');
  } finally {
    peer.socket.destroy();
    await ul.whenClosed();
    await lb.close();
  }
});

test('ARTIM in Sta13: the close after our A-RELEASE-RP, waiting unread after the loop was held past ARTIM, is a release, not a timeout', async () => {
  const { lb, ul, peer } = await acceptorWithRawPeer();
  ul.on('releaseIndication', () => ul.respondRelease());
  try {
    peer.write(encodePdu(rqPdu()));
    assert.equal((await peer.nextPdu())?.[0], 0x02, 'A-ASSOCIATE-AC');
    peer.write(new Uint8Array([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0])); // A-RELEASE-RQ
    assert.equal((await peer.nextPdu())?.[0], 0x06, 'A-RELEASE-RP: we wait in Sta13 for the close');
    peer.socket.destroy();
    holdLoop();
    const { error } = await ul.whenClosed();
    assert.equal(error, undefined, 'released, not timed out');
  } finally {
    await lb.close();
  }
});
