/**
 * A peer's A-RELEASE-RQ is answered once the requests it sent before are answered. When the
 * association is aborted meanwhile (here: the peer sends a P-DATA-TF after its A-RELEASE-RQ,
 * PS3.8 Table 9-10 Sta8/Evt10 → AA-8), there is no release left to answer: the association ends
 * with the abort as its reason, not with a failed A-RELEASE response (Evt14 in Sta13).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Association } from '../../src/ae/association.js';
import { Status } from '../../src/dictionary/status.js';
import { VerificationSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { encodeCommand } from '../../src/dimse/messages.js';
import { AssociationAbortedError } from '../../src/ul/upper-layer-errors.js';
import { ScriptedPeer } from '../helpers/scripted-peer.js';
import { A_RELEASE_RQ, rawAssociateRq, rawPData } from '../helpers/raw-pdu.js';
import { withServer } from '../helpers/with-server.js';

test('P-DATA after the A-RELEASE-RQ while a request is outstanding: the association ends with the provider abort, not an Evt14 failure', { timeout: 60_000 }, async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  await withServer(
    { aeTitle: 'ANY-SCP', presentationContexts: { supported: [{ abstractSyntax: VerificationSopClass, transferSyntaxes: [TransferSyntax.ImplicitVrLittleEndian] }] } },
    async (port, server) => {
      server.handlers.unregister('C-ECHO-RQ').register('C-ECHO-RQ', {
        async handle() {
          await gate;
          return { status: Status.Success };
        },
      });
      const association = new Promise<Association>((resolve) => server.once('association', resolve));
      const socket = net.connect(port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      const peer = new ScriptedPeer(socket);
      try {
        peer.write(rawAssociateRq());
        assert.equal((await peer.nextPdu())?.[0], 0x02);
        const a = await association;
        const echo = (id: number): Uint8Array => rawPData(1, true, true, encodeCommand({ type: 'C-ECHO-RQ', messageId: id, affectedSopClassUid: VerificationSopClass }));
        peer.write(Buffer.concat([echo(1), A_RELEASE_RQ, echo(2)]));
        // The server aborts at the P-DATA-TF in Sta8 (A-ABORT, source 2 service provider).
        const abort = await peer.nextPdu();
        assert.equal(abort?.[0], 0x07);
        assert.equal(abort?.[8], 2);
        // Now the outstanding C-ECHO's handler answers: nothing is left to respond to.
        open();
        socket.destroy();
        const { error } = await a.whenClosed();
        assert.ok(error instanceof AssociationAbortedError, `closed with ${String(error)}`);
        assert.doesNotMatch(error.message, /Evt14/);
      } finally {
        open();
        socket.destroy();
      }
    },
  );
});
