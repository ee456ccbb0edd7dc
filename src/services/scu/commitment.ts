/**
 * Storage Commitment Push Model SCU (PS3.4 J.3): ask the SCP to commit to keeping instances
 * (N-ACTION, Action Type ID 1, J.3.2), then receive its answer as an N-EVENT-REPORT (Event Type
 * ID 1: all committed, 2: some failed; J.3.3) — on the same association while it is open, or on a
 * new association the SCP opens to us (then our DicomServer needs `commitmentReportHandler`).
 */
import { checkCommitmentCall } from './call-options.js';
import type { Association } from '../../ae/association.js';
import { decodeDataset, type NaturalDataset } from '../../dataset/codec.js';
import { NormalizedSopClass } from '../../dictionary/uids.js';
import { Status } from '../../dictionary/status.js';
import { TimeoutError } from '../../errors.js';
import type { DimseHandler } from '../scp/registry.js';
import { nAction } from './n-services.js';

export interface SopReference {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
}

export interface CommitmentReport {
  readonly transactionUid: string;
  readonly committed: readonly SopReference[];
  readonly failed: readonly (SopReference & { readonly failureReason: number | undefined })[];
  /** The AE title that sent the report (its association's calling or called title). */
  readonly fromAeTitle: string;
}

/** A fresh UID for a transaction (PS3.5 B.2: UUID-derived, under 2.25). */
export function newTransactionUid(): string {
  return `2.25.${BigInt(`0x${process.getBuiltinModule('node:crypto').randomUUID().replace(/-/g, '')}`).toString()}`;
}

function items(value: unknown): Record<string, unknown>[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null);
}

/** Read the Event Information of a Storage Commitment N-EVENT-REPORT (PS3.4 Table J.3-2). */
export function parseCommitmentReport(info: NaturalDataset, fromAeTitle: string): CommitmentReport {
  const ref = (i: Record<string, unknown>): SopReference => ({ sopClassUid: String(i['ReferencedSOPClassUID'] ?? ''), sopInstanceUid: String(i['ReferencedSOPInstanceUID'] ?? '') });
  return {
    transactionUid: String(info['TransactionUID'] ?? ''),
    committed: items(info['ReferencedSOPSequence']).map(ref),
    failed: items(info['FailedSOPSequence']).map((i) => ({ ...ref(i), failureReason: i['FailureReason'] === undefined ? undefined : Number(i['FailureReason']) })),
    fromAeTitle,
  };
}

/** Send the commitment request (N-ACTION-RQ, PS3.4 J.3.2.1); resolves with its transaction UID once accepted. */
export async function requestStorageCommitment(association: Association, references: readonly SopReference[], options: { readonly transactionUid?: string; readonly timeout?: number } = {}): Promise<string> {
  checkCommitmentCall(references, options);
  const transactionUid = options.transactionUid ?? newTransactionUid();
  await nAction(
    association,
    {
      sopClassUid: NormalizedSopClass.StorageCommitmentPushModel,
      sopInstanceUid: NormalizedSopClass.StorageCommitmentPushModelInstance,
      actionTypeId: 1,
      actionInformation: {
        TransactionUID: transactionUid,
        ReferencedSOPSequence: references.map((r) => ({ ReferencedSOPClassUID: r.sopClassUid, ReferencedSOPInstanceUID: r.sopInstanceUid })),
      },
    },
    options.timeout === undefined ? {} : { timeout: options.timeout },
  );
  return transactionUid;
}

/**
 * Receives Storage Commitment reports: its `handler` goes into a HandlerRegistry for
 * N-EVENT-REPORT-RQ (a client's, for reports on the same association; a server's, for reports
 * on a new one); `wait(transactionUid)` resolves with the matching report.
 */
export class CommitmentReceiver {
  readonly #reports = new Map<string, CommitmentReport>();
  readonly #waiters = new Map<string, (r: CommitmentReport) => void>();
  readonly #listener: ((r: CommitmentReport) => void) | undefined;

  constructor(onReport?: (report: CommitmentReport) => void) {
    this.#listener = onReport;
  }

  readonly handler: DimseHandler<'N-EVENT-REPORT-RQ'> = {
    handle: (request, context) => {
      if (request.affectedSopClassUid !== NormalizedSopClass.StorageCommitmentPushModel) return { status: Status.NoSuchSopClass };
      if (request.eventTypeId !== 1 && request.eventTypeId !== 2) return { status: Status.NoSuchEventType };
      if (context.dataset === undefined) return { status: Status.MissingAttribute };
      const a = context.association;
      const report = parseCommitmentReport(decodeDataset(context.dataset, context.presentationContext.transferSyntax), a.role === 'requestor' ? a.calledAeTitle : a.callingAeTitle);
      try {
        this.#listener?.(report);
      } catch {
        // A listener never breaks the answer.
      }
      const waiter = this.#waiters.get(report.transactionUid);
      if (waiter !== undefined) {
        this.#waiters.delete(report.transactionUid);
        waiter(report);
      } else {
        this.#reports.set(report.transactionUid, report);
      }
      return { status: Status.Success };
    },
  };

  /** The report for `transactionUid` (already received or still to come); rejects with TimeoutError after `timeout` ms. */
  wait(transactionUid: string, timeout = 60_000): Promise<CommitmentReport> {
    const ready = this.#reports.get(transactionUid);
    if (ready !== undefined) {
      this.#reports.delete(transactionUid);
      return Promise.resolve(ready);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(transactionUid);
        reject(new TimeoutError('dimse', `no Storage Commitment report for ${transactionUid} within ${timeout} ms`));
      }, timeout);
      this.#waiters.set(transactionUid, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }
}
