/**
 * Our client proposing an Asynchronous Operations Window to DCMTK 3.6.7 storescp, which does not
 * support asynchronous operations: its A-ASSOCIATE-AC carries no 0x53 sub-item (or 1/1), our
 * client then keeps one C-STORE outstanding at a time, and every instance is stored.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { channelNames } from '../../src/diagnostics.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import type { Pdu } from '../../src/ul/pdu/types.js';
import { hasDcmtk, startListening } from '../helpers/dcmtk.js';
import { tempDir } from '../helpers/dicom-data.js';
import { spec, writeInstance } from '../helpers/services.js';

const skip = hasDcmtk('storescp') ? false : 'DCMTK storescp missing';

let dir: string;
let remove: () => Promise<void>;

before(async () => {
  ({ dir, remove } = await tempDir('async-dcmtk'));
});
after(async () => {
  await remove();
});

test('our client proposes a window of 8 to storescp: no window agreed, one C-STORE at a time, all stored', { skip }, async () => {
  const input = join(dir, 'in');
  const out = join(dir, 'out');
  await mkdir(input);
  await mkdir(out);
  for (let n = 1; n <= 6; n++) await writeInstance(input, spec(200 + n), { pixels: 2048 });
  const scp = await startListening('storescp', ['-od', out]);
  const received: Pdu[] = [];
  const onPdu = (m: unknown): void => {
    received.push((m as { pdu: Pdu }).pdu);
  };
  subscribe(channelNames.pduReceived, onPdu);
  try {
    const client = await DicomClient.associate({
      host: '127.0.0.1',
      port: scp.port,
      callingAeTitle: 'OUR-SCU',
      calledAeTitle: 'STORESCP',
      presentationContexts: await storageContextsFor([input]),
      asynchronousOperations: { maxOperationsInvoked: 8, maxOperationsPerformed: 1 },
      timeouts: { connect: 5000, association: 5000, dimse: 20000 },
    });
    const ac = received.find((p) => p.type === 'A-ASSOCIATE-AC');
    assert.ok(ac !== undefined && ac.type === 'A-ASSOCIATE-AC');
    const answered = ac.userInformation.asynchronousOperationsWindow;
    assert.ok(answered === undefined || (answered.maxOperationsInvoked === 1 && answered.maxOperationsPerformed === 1), JSON.stringify(answered));
    assert.deepEqual(client.association.info.asynchronousOperations, { invoked: 1, performed: 1 });
    let outstanding = 0;
    let max = 0;
    client.association.on('message', (m) => {
      if (m.direction === 'sent' && m.command.type === 'C-STORE-RQ') max = Math.max(max, ++outstanding);
      if (m.direction === 'received' && m.command.type === 'C-STORE-RSP') outstanding--;
    });
    const results = await client.store([input]);
    await client.release();
    assert.deepEqual(results.map((r) => r.status), [0, 0, 0, 0, 0, 0], scp.output());
    assert.equal(max, 1);
    assert.equal((await readdir(out)).length, 6, scp.output());
  } finally {
    unsubscribe(channelNames.pduReceived, onPdu);
    await scp.stop();
  }
});
