/**
 * The DIMSE grammar of the live fuzzer, in process: any command set a peer can send decodes to a
 * command or fails with a typed error, and every request that decodes can be answered: the
 * response the association would build for it (identifying fields echoed) always encodes, with
 * any Error Comment a handler could give. A throw there once left the peer waiting 60 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeCommand, encodeCommand, isRequest } from '../../src/dimse/messages.js';
import { CommandSetDecodeError, InvalidCommandError } from '../../src/dimse/errors.js';
import { responseFor } from '../../src/ae/response.js';
import { safeErrorComment } from '../../src/ae/error-comment.js';
import { commandSet } from './grammar.js';

test('fuzz: command sets decode or fail typed; every decoded request gets an encodable response', () => {
  let answered = 0;
  fc.assert(
    fc.property(commandSet, fc.string({ maxLength: 100 }), fc.nat(0xffff), (bytes, comment, status) => {
      let command;
      try {
        command = decodeCommand(bytes);
      } catch (e) {
        assert.ok(e instanceof CommandSetDecodeError || e instanceof InvalidCommandError, String(e));
        return;
      }
      if (!isRequest(command) || command.type === 'C-CANCEL-RQ') return;
      const errorComment = safeErrorComment(comment);
      encodeCommand(responseFor(command, { status, ...(errorComment === undefined ? {} : { errorComment }) }, false));
      answered++;
    }),
    { numRuns: 5000 },
  );
  assert.ok(answered > 100, `requests reached the response builder (${answered})`);
});
