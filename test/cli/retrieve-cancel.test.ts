/**
 * Ctrl-C during `find`, `move` and `get` (PS3.7 9.3.2.3, 9.3.3.3, 9.3.4.3): the CLI, a real child
 * process, sends C-CANCEL-RQ naming the operation's Message ID on its presentation context, reads
 * on until the final response, prints the cancel and the counts, releases and exits 130. A peer
 * that ignores the cancel is aborted at a second Ctrl-C, or when the DIMSE timeout runs out.
 * Signals are sent on events (the SCP sent a Pending response, received the C-CANCEL-RQ), never
 * after a delay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { DicomServer } from '../../src/ae/server.js';
import type { Association } from '../../src/ae/association.js';
import type { DimseCommand } from '../../src/dimse/messages.js';
import { encodeDataset } from '../../src/dataset/codec.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import type { HandleContext, ResponseFields } from '../../src/services/scp/registry.js';
import { CLI, collect, type CliResult } from '../helpers/cli.js';

const EXPLICIT = TransferSyntax.ExplicitVrLittleEndian;
const FIND = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind;
const MOVE = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelMove;

/** honour: Cancel at the cancel; finish: Success, nothing remaining (the work was done); ignore: no answer. */
type Mode = 'honour' | 'finish' | 'ignore';

interface Seen {
  /** What the SCP saw, in order: the request, its Pending response, the cancel, the final response, the end. */
  readonly events: string[];
  request?: { messageId: number; pcId: number };
  cancel?: { messageIdBeingRespondedTo: number; pcId: number };
  end?: 'released' | 'aborted';
}

const counts = (remaining: number): Partial<ResponseFields> => ({
  numberOfRemainingSuboperations: remaining, numberOfCompletedSuboperations: 1, numberOfFailedSuboperations: 0, numberOfWarningSuboperations: 0,
});

/** The SCP's answer: one Pending response (`onPending`), then wait for the cancel (or, ignoring it, for the association's end). */
async function answer(context: HandleContext, mode: Mode, pending: ResponseFields, final: ResponseFields, onPending: () => void): Promise<ResponseFields> {
  await context.respond(pending);
  onPending();
  if (mode === 'ignore') {
    await context.association.whenClosed();
    return final;
  }
  if (!context.signal.aborted) await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
  return final;
}

/**
 * Runs the CLI `args` against an SCP that answers C-FIND/C-MOVE as `mode` says, sending `signals`
 * to the child: the first once the Pending response is sent, each further one once the SCP has
 * received the C-CANCEL-RQ.
 */
async function run(args: readonly string[], mode: Mode, signals: readonly NodeJS.Signals[]): Promise<{ r: CliResult; seen: Seen }> {
  const server = new DicomServer({ aeTitle: 'SLOW', presentationContexts: { supported: [FIND, MOVE].map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [EXPLICIT] })) } });
  const seen: Seen = { events: [] };
  let child: ReturnType<typeof spawn> | undefined;
  const signal = (i: number): void => { if (signals[i] !== undefined) child!.kill(signals[i]); };
  server.handlers.register('C-FIND-RQ', {
    handle: (_rq, context) => answer(context, mode,
      { status: 0xff00, dataset: encodeDataset({ PatientName: 'DOE^JOHN', StudyInstanceUID: '1.2.3', QueryRetrieveLevel: 'STUDY' }, context.presentationContext.transferSyntax) },
      { status: 0xfe00 }, () => { seen.events.push('pending'); signal(0); }),
  });
  server.handlers.register('C-MOVE-RQ', {
    handle: (_rq, context) => answer(context, mode, { status: 0xff00, ...counts(4) },
      mode === 'finish' ? { status: 0, ...counts(0), numberOfRemainingSuboperations: undefined, numberOfCompletedSuboperations: 5 } : { status: 0xfe00, ...counts(4) },
      () => { seen.events.push('pending'); signal(0); }),
  });
  server.on('association', (a: Association) => {
    a.on('message', ({ direction, command, presentationContextId }: { direction: string; command: DimseCommand; presentationContextId: number }) => {
      if (direction === 'received' && (command.type === 'C-FIND-RQ' || command.type === 'C-MOVE-RQ')) {
        seen.events.push('request');
        seen.request = { messageId: command.messageId, pcId: presentationContextId };
      } else if (direction === 'received' && command.type === 'C-CANCEL-RQ') {
        seen.events.push('cancel');
        seen.cancel = { messageIdBeingRespondedTo: command.messageIdBeingRespondedTo, pcId: presentationContextId };
        for (let i = 1; i < signals.length; i++) signal(i);
      } else if (direction === 'sent' && 'status' in command && (command.status & 0xff00) !== 0xff00) seen.events.push('final');
    });
    a.on('released', () => { seen.events.push('released'); seen.end = 'released'; });
    // 'peer-user': an A-ABORT PDU from the CLI, not a connection that just closed.
    a.on('aborted', (e) => { seen.events.push(`aborted ${(e as { origin?: string }).origin}`); seen.end = 'aborted'; });
  });
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    child = spawn(process.execPath, [CLI, args[0]!, `127.0.0.1:${port}`, '--no-tls', '--call', 'SLOW', ...args.slice(1)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const r = await collect(child as never);
    await server.close({ timeout: 2000 });
    return { r, seen };
  } finally {
    await server.close({ timeout: 500 }).catch(() => undefined);
  }
}

const find = ['find', '--level', 'STUDY', '-k', 'PatientName=DOE*', '-k', 'StudyInstanceUID'];
const move = ['move', '--dest', 'ELSEWHERE', '-k', 'StudyInstanceUID=1.2.3'];

/** The cancel named the request's Message ID on the request's presentation context. */
function cancelMatches(seen: Seen): void {
  assert.ok(seen.request !== undefined && seen.cancel !== undefined, JSON.stringify(seen));
  assert.equal(seen.cancel.messageIdBeingRespondedTo, seen.request.messageId);
  assert.equal(seen.cancel.pcId, seen.request.pcId);
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  test(`move: ${sig} sends C-CANCEL-RQ, waits for the final Cancel, prints the counts, releases and exits 130`, { timeout: 60_000 }, async () => {
    const { r, seen } = await run([...move, '--timeout', '30'], 'honour', [sig]);
    cancelMatches(seen);
    assert.deepEqual(seen.events, ['request', 'pending', 'cancel', 'final', 'released'], r.stderr);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, new RegExp(`^${sig}: cancelling the C-MOVE \\(C-CANCEL-RQ sent\\)`, 'm'));
    assert.match(r.stdout, /^C-MOVE: completed 1, warnings 0, failed 0, not performed 4$/m);
    assert.match(r.stderr, new RegExp(`^error: C-MOVE cancelled on ${sig}: the peer's final response is Cancel \\(0xfe00\\), 4 sub-operations not performed; the association was released\\. \\[DICOM_ERR_INTERRUPTED\\]$`, 'm'));
  });
}

test('move --quiet: no notes, but the error line that names the cancel is printed', { timeout: 60_000 }, async () => {
  const { r, seen } = await run([...move, '--timeout', '30', '--quiet'], 'honour', ['SIGINT']);
  cancelMatches(seen);
  assert.equal(r.code, 130, r.stderr);
  assert.doesNotMatch(r.stderr, /cancelling the C-MOVE/);
  assert.match(r.stderr, /^error: C-MOVE cancelled on SIGINT: .* \[DICOM_ERR_INTERRUPTED\]$/m);
});

test('move: SIGINT when the peer had already done it all (final Success, nothing remaining): the counts, release, exit 0', { timeout: 60_000 }, async () => {
  const { r, seen } = await run([...move, '--timeout', '30'], 'finish', ['SIGINT']);
  cancelMatches(seen);
  assert.deepEqual(seen.events, ['request', 'pending', 'cancel', 'final', 'released'], r.stderr);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^the C-MOVE was complete before the peer acted on the cancel$/m);
  assert.match(r.stdout, /^C-MOVE: completed 5, warnings 0, failed 0$/m);
});

test('find: SIGINT sends C-CANCEL-RQ, prints the matches so far and the final Cancel, releases and exits 130', { timeout: 60_000 }, async () => {
  const { r, seen } = await run([...find, '--timeout', '30'], 'honour', ['SIGINT']);
  cancelMatches(seen);
  assert.deepEqual(seen.events, ['request', 'pending', 'cancel', 'final', 'released'], r.stderr);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /^error: C-FIND cancelled on SIGINT after \d match(es)? .*: its final response is Cancel \(0xfe00\); the association was released\. \[DICOM_ERR_INTERRUPTED\]$/m);
});

test('move: a peer that ignores the cancel is aborted at the second SIGINT; exit 130', { timeout: 60_000 }, async () => {
  const { r, seen } = await run([...move, '--timeout', '30'], 'ignore', ['SIGINT', 'SIGINT']);
  cancelMatches(seen);
  assert.deepEqual(seen.events, ['request', 'pending', 'cancel', 'aborted peer-user'], r.stderr);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /^SIGINT again: aborting the association \(A-ABORT\)$/m);
  assert.match(r.stderr, /^error: C-MOVE cancelled on SIGINT, then the association was aborted \(A-ABORT\) before the peer's final response\. \[DICOM_ERR_INTERRUPTED\]$/m);
});

test('find: a peer that ignores the cancel is aborted when the DIMSE timeout runs out after it; exit 130', { timeout: 60_000 }, async () => {
  const { r, seen } = await run([...find, '--timeout', '2'], 'ignore', ['SIGINT']);
  cancelMatches(seen);
  assert.deepEqual(seen.events, ['request', 'pending', 'cancel', 'aborted peer-user'], r.stderr);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /^error: C-FIND cancelled on SIGINT, then it ended with an error: no final response to C-FIND-RQ \(message ID \d+\) within 2000 ms of our C-CANCEL-RQ; association aborted\. \[DICOM_ERR_INTERRUPTED\]$/m);
});
