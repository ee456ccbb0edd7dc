/**
 * Query/Retrieve MOVE and GET SCU (PS3.4 C.4.2, C.4.3). C-MOVE asks the SCP to send the matching
 * instances to a named destination AE on another association; C-GET has them sent back on this
 * association as C-STORE sub-operations, our side acting in the Storage SCP role (negotiated by
 * SCP/SCU role selection, PS3.7 D.3.3.4). Both report progress from the Pending responses'
 * sub-operation counts (PS3.7 9.3.3.2, 9.3.4.2).
 */
import type { Association } from '../../ae/association.js';
import { DimseStatusError } from '../../ae/errors.js';
import type { RequestedContext } from '../../acse/presentation-context.js';
import type { RoleProposal } from '../../acse/role-selection.js';
import { decodeDataset, encodeDataset, type NaturalDataset } from '../../dataset/codec.js';
import { Priority } from '../../dictionary/command-field.js';
import { formatStatus, isPending, statusClass, StatusClass } from '../../dictionary/status.js';
import { StorageSopClass, TransferSyntax } from '../../dictionary/uids.js';
import type { CGetRsp, CMoveRsp } from '../../dimse/messages.js';
import type { FileStore, StoredInstance } from '../../store/file-store.js';
import type { HandlerRegistry } from '../scp/registry.js';
import { storageHandler, type ReceivedInstance } from '../scp/storage.js';
import { sopClassFor, type QueryModelName } from './find.js';

/** Sub-operation counts of one C-MOVE/C-GET response. */
export interface RetrieveProgress {
  readonly status: number;
  readonly remaining: number | undefined;
  readonly completed: number;
  readonly failed: number;
  readonly warning: number;
}

export interface RetrieveResult extends RetrieveProgress {
  readonly outcome: 'Success' | 'Warning' | 'Failure' | 'Cancel';
  readonly errorComment: string | undefined;
  /** Failed SOP Instance UID List (0008,0058) of the final response, when sent. */
  readonly failedSopInstanceUids: readonly string[];
}

export interface RetrieveOptions {
  readonly priority?: number;
  readonly onProgress?: (progress: RetrieveProgress) => void;
  /** Aborting sends C-CANCEL-RQ; the promise resolves with the final (Cancel) response. */
  readonly signal?: AbortSignal;
  /** Milliseconds to wait for each response (restarted by each Pending one). */
  readonly timeout?: number;
}

function progressOf(rsp: CMoveRsp | CGetRsp): RetrieveProgress {
  return {
    status: rsp.status,
    remaining: rsp.numberOfRemainingSuboperations,
    completed: rsp.numberOfCompletedSuboperations ?? 0,
    failed: rsp.numberOfFailedSuboperations ?? 0,
    warning: rsp.numberOfWarningSuboperations ?? 0,
  };
}

async function retrieve(
  association: Association,
  kind: 'move' | 'get',
  model: QueryModelName,
  identifier: NaturalDataset,
  destination: string | undefined,
  options: RetrieveOptions,
): Promise<RetrieveResult> {
  const sopClass = sopClassFor(model, kind);
  const context = association.contexts.select(sopClass, { requestorRole: 'scu' });
  const dataset = encodeDataset(identifier, context.transferSyntax);
  const command =
    kind === 'move'
      ? ({ type: 'C-MOVE-RQ', affectedSopClassUid: sopClass, priority: options.priority ?? Priority.Medium, moveDestination: destination! } as const)
      : ({ type: 'C-GET-RQ', affectedSopClassUid: sopClass, priority: options.priority ?? Priority.Medium } as const);
  const pending = association.request(command, { dataset, presentationContextId: context.id, ...(options.timeout === undefined ? {} : { timeout: options.timeout }) });
  const onAbort = (): void => void pending.cancel().catch(() => undefined);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) onAbort();
  try {
    for await (const message of pending) {
      const rsp = message.command as CMoveRsp | CGetRsp;
      const progress = progressOf(rsp);
      if (isPending(rsp.status)) {
        try {
          options.onProgress?.(progress);
        } catch {
          // A listener never breaks the retrieve.
        }
        continue;
      }
      // PS3.7 puts the list in the response's data set; DCMTK-based SCPs (Orthanc) may put it in
      // the command as status detail (implicit VR little endian) instead.
      const failedUids = failedListOf(message.dataset, context.transferSyntax) ?? failedListOf(rsp.statusDetail, TransferSyntax.ImplicitVrLittleEndian) ?? [];
      const c = statusClass(rsp.status);
      if (c === StatusClass.Failure) {
        // A702 after sub-operations (all failed, PS3.4 C.4.2.2.1) still carries the counts and the list.
        throw Object.assign(new DimseStatusError(rsp.type, rsp.status, `${kind === 'move' ? 'C-MOVE' : 'C-GET'} failed: ${formatStatus(rsp.status)}${rsp.errorComment ? ` (${rsp.errorComment})` : ''}`), {
          progress,
          failedSopInstanceUids: failedUids,
        });
      }
      return {
        ...progress,
        outcome: c === StatusClass.Success ? 'Success' : c === StatusClass.Warning ? 'Warning' : 'Cancel',
        errorComment: rsp.errorComment,
        failedSopInstanceUids: failedUids,
      };
    }
    throw new DimseStatusError(command.type.replace('RQ', 'RSP'), -1, 'no final response');
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** Failed SOP Instance UID List (0008,0058) of an identifier, or undefined when there is none. */
function failedListOf(bytes: Uint8Array | undefined, transferSyntax: string): string[] | undefined {
  if (bytes === undefined || bytes.byteLength === 0) return undefined;
  try {
    const v = decodeDataset(bytes, transferSyntax)['FailedSOPInstanceUIDList'];
    return v === undefined || v === null ? undefined : (Array.isArray(v) ? v : [v]).map(String).flatMap((s) => s.split('\\')).filter((s) => s !== '');
  } catch {
    return undefined; // An undecodable identifier does not hide the counts.
  }
}

/** C-MOVE to `destination` (an AE title the SCP knows). Resolves with the final counts; a Failure status rejects with DimseStatusError. */
export function move(association: Association, model: QueryModelName, identifier: NaturalDataset, destination: string, options: RetrieveOptions = {}): Promise<RetrieveResult> {
  return retrieve(association, 'move', model, identifier, destination, options);
}

export interface GetOptions extends RetrieveOptions {
  /** Store each received instance here (temp + rename, bit-preserving). */
  readonly store?: FileStore;
  /** Or stream each instance to this handler (see scp/storage.ts `storageHandler`). */
  readonly onInstance?: (instance: ReceivedInstance) => Promise<void> | void;
  /** Called after each instance is stored by `store`. */
  readonly onStored?: (instance: StoredInstance) => void;
}

/**
 * C-GET: the instances come back as C-STORE-RQs on this association and go to `store` or
 * `onInstance`, registered on `handlers` (the association's registry) for the duration. Without
 * either, a C-STORE-RQ handler must already be registered.
 */
export async function get(association: Association, handlers: HandlerRegistry, model: QueryModelName, identifier: NaturalDataset, options: GetOptions = {}): Promise<RetrieveResult> {
  const own = options.store !== undefined || options.onInstance !== undefined;
  if (own) {
    handlers.register(
      'C-STORE-RQ',
      storageHandler(
        options.store !== undefined
          ? { store: options.store, ...(options.onStored === undefined ? {} : { onStored: options.onStored }) }
          : { onInstance: options.onInstance! },
      ),
    );
  }
  try {
    return await retrieve(association, 'get', model, identifier, undefined, options);
  } finally {
    if (own) handlers.unregister('C-STORE-RQ');
  }
}

/** Storage SOP classes most C-GET peers send: proposed by `getContexts` when none are named. */
export const COMMON_STORAGE_SOP_CLASSES: readonly string[] = [
  StorageSopClass.CtImageStorage,
  StorageSopClass.MrImageStorage,
  StorageSopClass.SecondaryCaptureImageStorage,
  StorageSopClass.UltrasoundImageStorage,
  StorageSopClass.ComputedRadiographyImageStorage,
  StorageSopClass.DigitalXRayImageStorageForPresentation,
  StorageSopClass.EnhancedCtImageStorage,
  StorageSopClass.EnhancedMrImageStorage,
  StorageSopClass.UltrasoundMultiFrameImageStorage,
  StorageSopClass.MultiFrameTrueColorSecondaryCaptureImageStorage,
];

/**
 * Presentation contexts and role selection for C-GET: the GET SOP class(es), and each Storage
 * SOP class with us as SCP (PS3.4 C.4.3.1: the SCU must propose the storage contexts and the SCP
 * role for them).
 */
export function getContexts(options: {
  readonly models?: readonly QueryModelName[];
  readonly storageSopClasses?: readonly string[];
  readonly transferSyntaxes?: readonly string[];
  /** Also propose the SCU role for the storage classes (to C-STORE on the same association). Default false. */
  readonly scuRole?: boolean;
} = {}): { presentationContexts: RequestedContext[]; roles: RoleProposal[] } {
  const ts = options.transferSyntaxes ?? [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian];
  const models = options.models ?? ['STUDY_ROOT', 'PATIENT_ROOT'];
  const classes = options.storageSopClasses ?? COMMON_STORAGE_SOP_CLASSES;
  return {
    presentationContexts: [
      ...models.map((m) => ({ abstractSyntax: sopClassFor(m, 'get'), transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian] })),
      ...classes.map((c) => ({ abstractSyntax: c, transferSyntaxes: ts })),
    ],
    roles: classes.map((c) => ({ sopClassUid: c, scuRole: options.scuRole === true, scpRole: true })),
  };
}
