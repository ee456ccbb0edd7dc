/**
 * Storage Commitment Push Model SCP (PS3.4 J.3): the N-ACTION-RQ (Request Storage Commitment) is
 * answered at once; each referenced instance is then checked against the index (stored, same SOP
 * class, file present) and the result sent as N-EVENT-REPORT-RQ (Event Type ID 1: all committed,
 * 2: failures, with Failure Reason 0112 no such object instance or 0119 class/instance conflict;
 * PS3.4 J.3.3, Table J.3-2): on the same association when it is still open and takes it, else on a new
 * association to the requesting AE (configured like a move destination), proposing the SCP role
 * for the Storage Commitment SOP class (PS3.4 J.3.3.1).
 */
import { InvalidOptionError } from '../../errors.js';
import { DicomClient } from '../../ae/client.js';
import type { Association } from '../../ae/association.js';
import { channelNames, publish } from '../../diagnostics.js';
import { decodeDataset, type NaturalDataset } from '../../dataset/codec.js';
import { Status } from '../../dictionary/status.js';
import { NormalizedSopClass, TransferSyntax } from '../../dictionary/uids.js';
import type { CommitmentReference, InstanceIndex, StoredFile } from '../../store/instance-index.js';
import type { InstanceFiles } from '../../store/file-store.js';
import { nEventReport } from '../scu/n-services.js';
import { parseCommitmentReport, type SopReference } from '../scu/commitment.js';
import { lookupAe, type MoveHandlerOptions } from './query-retrieve.js';
import type { DimseHandler } from './registry.js';

export interface CommitmentHandlerOptions {
  /** Where the instances are looked up and the transaction's state is kept (any node sharing it can tell). */
  readonly index: InstanceIndex;
  /** Where the indexed copies are (their files are checked for presence and size). */
  readonly store: InstanceFiles;
  /** Where to reach a requesting AE when its association is gone (same shape as move destinations). */
  readonly destinations?: MoveHandlerOptions['destinations'];
  /** 'auto' (default): same association if still open, else a new one; 'new-association': always a new one. */
  readonly report?: 'auto' | 'new-association';
  /** Milliseconds for the association and response of a report sent on a new association. Default 30 000. */
  readonly timeout?: number;
  /**
   * Most bytes of a request's Action Information, default `DEFAULT_MAX_COMMITMENT_REQUEST_LENGTH`;
   * a larger one is answered 0213 (Resource limitation) unread, the association goes on. 0 = no
   * limit of its own (the 64 MiB of any collected data set).
   */
  readonly maxRequestLength?: number;
}

/**
 * Default of `maxRequestLength`: 1 MiB, a transaction of about 8 000 instances (an item of two
 * UIDs is ~130 bytes). Decoding costs up to a hundred times the bytes (dcmjs makes objects of
 * every item and value), outside the buffer budgets (docs/limits.md).
 */
export const DEFAULT_MAX_COMMITMENT_REQUEST_LENGTH = 1024 * 1024;

/** Failure Reason values (PS3.4 J.3.3.1.1 / Table J.3-2 via PS3.7 C.5). */
const NoSuchObjectInstance = 0x0112;
const ClassInstanceConflict = 0x0119;

async function check(options: CommitmentHandlerOptions, refs: readonly SopReference[]): Promise<CommitmentReference[]> {
  const out: CommitmentReference[] = [];
  for (const r of refs) {
    const stored = await options.index.findInstance(r.sopInstanceUid);
    let reason: number | undefined;
    if (stored === undefined) reason = NoSuchObjectInstance;
    else if (stored.SOPClassUID !== r.sopClassUid) reason = ClassInstanceConflict;
    else if (!(await copyHeld(options, stored))) reason = NoSuchObjectInstance;
    out.push({ sopClassUid: r.sopClassUid, sopInstanceUid: r.sopInstanceUid, ...(reason === undefined ? {} : { failureReason: reason }) });
  }
  return out;
}

/**
 * The copy a row names is in the store (which may be another node's: a directory, a shared mount
 * or S3) with the size the row records. A copy gone since the row was read is looked up once
 * more: an 'overwrite' meanwhile put the instance under a new key and removed the old copy.
 */
async function copyHeld(options: CommitmentHandlerOptions, stored: StoredFile): Promise<boolean> {
  const held = (f: StoredFile): Promise<boolean> => options.store.sizeOf(f.key).then((size) => size === f.size, () => false);
  if (await held(stored)) return true;
  const again = await options.index.findInstance(stored.SOPInstanceUID).catch(() => undefined);
  return again !== undefined && again.key !== stored.key && again.SOPClassUID === stored.SOPClassUID && (await held(again));
}

/** The report's items (PS3.4 Table J.3-2). */
const reportItem = (r: CommitmentReference): NaturalDataset => ({
  ReferencedSOPClassUID: r.sopClassUid,
  ReferencedSOPInstanceUID: r.sopInstanceUid,
  ...(r.failureReason === undefined ? {} : { FailureReason: r.failureReason }),
});

/** Who the report answers: the requesting AE, and the association it asked on while there is one. */
interface ReportTarget {
  readonly requestor: string;
  /** Our AE title it called (the calling AE of a new association, unless the destination names one). */
  readonly ourAeTitle: string;
  readonly association?: Association;
}

async function sendReport(target: ReportTarget, options: CommitmentHandlerOptions, transactionUid: string, checked: readonly CommitmentReference[]): Promise<void> {
  const results = checked.map(reportItem);
  const committed = results.filter((r) => r['FailureReason'] === undefined);
  const failed = results.filter((r) => r['FailureReason'] !== undefined);
  const info: Record<string, unknown> = { TransactionUID: transactionUid };
  if (committed.length > 0) info['ReferencedSOPSequence'] = committed;
  if (failed.length > 0) info['FailedSOPSequence'] = failed;
  const report = {
    sopClassUid: NormalizedSopClass.StorageCommitmentPushModel,
    sopInstanceUid: NormalizedSopClass.StorageCommitmentPushModelInstance,
    eventTypeId: failed.length > 0 ? 2 : 1,
    eventInformation: info as NaturalDataset,
  };
  const t = options.timeout ?? 30_000;
  const ae = target.requestor;
  const association = target.association;
  const remote = options.destinations === undefined ? undefined : lookupAe(options.destinations, ae);
  if (options.report !== 'new-association' && association !== undefined && !association.isClosed) {
    try {
      await nEventReport(association, report, { timeout: t });
      publish(channelNames.server, () => ({ kind: 'commitment-reported', transactionUid, via: 'same-association' }));
      return;
    } catch (error) {
      // Gone in the meantime, or refused there (a requestor that only takes reports on its own
      // SCP): try a new association when we know where the AE lives.
      if (remote === undefined) throw error;
    }
  }
  if (remote === undefined) throw new Error(`no address configured for ${ae} to send the commitment report to`);
  const client = await DicomClient.associate({
    host: remote.host,
    port: remote.port,
    tls: remote.tls,
    callingAeTitle: remote.callingAeTitle ?? target.ourAeTitle,
    calledAeTitle: ae,
    presentationContexts: [{ abstractSyntax: NormalizedSopClass.StorageCommitmentPushModel, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian] }],
    roles: [{ sopClassUid: NormalizedSopClass.StorageCommitmentPushModel, scuRole: false, scpRole: true }],
    timeouts: { connect: t, association: t, dimse: t },
  });
  try {
    await nEventReport(client.association, report, { timeout: t });
    publish(channelNames.server, () => ({ kind: 'commitment-reported', transactionUid, via: 'new-association' }));
  } finally {
    await client.release().catch(() => client.abort().catch(() => undefined));
  }
}

/** The N-ACTION-RQ handler of the Storage Commitment Push Model SCP. */
export function commitmentHandler(options: CommitmentHandlerOptions): DimseHandler<'N-ACTION-RQ'> {
  const max = options.maxRequestLength ?? DEFAULT_MAX_COMMITMENT_REQUEST_LENGTH;
  if (!Number.isInteger(max) || max < 0) throw new InvalidOptionError('maxRequestLength', `must be an integer ≥ 0, got ${String(max)}`);
  return {
    // PS3.7 C.5: 0213 Resource limitation, "not performed due to resource limitation".
    ...(max === 0 ? {} : { datasetLimit: { maxLength: max, status: Status.ResourceLimitation, name: 'action information' } }),
    async handle(request, context) {
      if (request.requestedSopClassUid !== NormalizedSopClass.StorageCommitmentPushModel) return { status: Status.NoSuchSopClass };
      if (request.requestedSopInstanceUid !== NormalizedSopClass.StorageCommitmentPushModelInstance) return { status: Status.NoSuchSopInstance };
      if (request.actionTypeId !== 1) return { status: Status.NoSuchActionType };
      if (context.dataset === undefined) return { status: Status.MissingAttribute, errorComment: 'no Action Information' };
      let info: NaturalDataset;
      try {
        info = decodeDataset(context.dataset, context.presentationContext.transferSyntax);
      } catch (error) {
        return { status: Status.InvalidArgumentValue, errorComment: String((error as Error).message) };
      }
      const parsed = parseCommitmentReport(info, context.association.callingAeTitle);
      if (parsed.transactionUid === '' || parsed.committed.length === 0) return { status: Status.MissingAttributeValue, errorComment: 'TransactionUID and ReferencedSOPSequence are required' };
      const association = context.association;
      const uid = parsed.transactionUid;
      // Accepted means recorded: the index keeps the request (and later its outcome and whether
      // it was reported), where every node sharing the index can read it.
      try {
        await options.index.recordCommitment(uid, association.callingAeTitle, parsed.committed.map((r) => ({ sopClassUid: r.sopClassUid, sopInstanceUid: r.sopInstanceUid })));
      } catch (error) {
        publish(channelNames.server, () => ({ kind: 'commitment-report-failed', transactionUid: uid, error }));
        return { status: Status.ProcessingFailure, errorComment: 'cannot record the request' };
      }
      // After the N-ACTION-RSP has been queued (the handler's answer goes out first).
      setImmediate(() => {
        (async () => {
          const checked = await check(options, parsed.committed);
          await options.index.commitmentChecked(uid, checked);
          await sendReport({ requestor: association.callingAeTitle, ourAeTitle: association.calledAeTitle, association }, options, uid, checked);
          await options.index.commitmentReported(uid);
        })().catch((error: unknown) => publish(channelNames.server, () => ({ kind: 'commitment-report-failed', transactionUid: uid, error })));
      });
      return { status: Status.Success };
    },
  };
}

export interface CommitmentRecoveryOptions extends CommitmentHandlerOptions {
  /** Our AE title: the calling AE title of the reports' associations (unless a destination names one). */
  readonly aeTitle: string;
  /**
   * A transaction neither reported nor touched for this many milliseconds is taken as abandoned
   * (its node stopped or failed to report). Default 60 000: longer than a report takes.
   */
  readonly staleAfter?: number;
  /** At most this many transactions in one call; default 100. */
  readonly limit?: number;
}

/**
 * Send the reports of Storage Commitment transactions that a node (this one before a restart,
 * or another node sharing the index) accepted and never reported: each claimed in the index (one
 * node takes it), checked now if it was not yet, and reported on a new association to the
 * requesting AE's address in `destinations`. Returns the Transaction UIDs reported and those
 * that could not be ('commitment-report-failed' on the `server` channel; tried again by a later
 * call once stale again).
 */
export async function reportAbandonedCommitments(options: CommitmentRecoveryOptions): Promise<{ reported: string[]; failed: string[] }> {
  const before = new Date(Date.now() - (options.staleAfter ?? 60_000)).toISOString();
  const claimed = await options.index.claimUnreportedCommitments(before, options.limit ?? 100);
  const reported: string[] = [];
  const failed: string[] = [];
  for (const t of claimed) {
    const uid = t.transactionUid;
    try {
      let checked = t.references;
      if (t.state === 'requested') {
        checked = await check(options, t.references);
        await options.index.commitmentChecked(uid, checked);
      }
      await sendReport({ requestor: t.requestor, ourAeTitle: options.aeTitle }, { ...options, report: 'new-association' }, uid, checked);
      await options.index.commitmentReported(uid);
      reported.push(uid);
    } catch (error) {
      failed.push(uid);
      publish(channelNames.server, () => ({ kind: 'commitment-report-failed', transactionUid: uid, error }));
    }
  }
  return { reported, failed };
}

