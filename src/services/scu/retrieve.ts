/**
 * Query/Retrieve MOVE and GET SCU (PS3.4 C.4.2, C.4.3). C-MOVE asks the SCP to send the matching
 * instances to a named destination AE on another association; C-GET has them sent back on this
 * association as C-STORE sub-operations, our side acting in the Storage SCP role (negotiated by
 * SCP/SCU role selection, PS3.7 D.3.3.4). Both report progress from the Pending responses'
 * sub-operation counts (PS3.7 9.3.3.2, 9.3.4.2).
 */
import { checkRetrieveCall } from './call-options.js';
import type { Association } from '../../ae/association.js';
import { DimseStatusError } from '../../ae/errors.js';
import { MAX_PRESENTATION_CONTEXTS, type RequestedContext } from '../../acse/presentation-context.js';
import type { RoleProposal } from '../../acse/role-selection.js';
import { decodeDataset, encodeDataset, type NaturalDataset } from '../../dataset/codec.js';
import { Priority } from '../../dictionary/command-field.js';
import { formatStatus, isPending, statusClass, StatusClass } from '../../dictionary/status.js';
import { StorageSopClass, TransferSyntax, transferSyntaxProperties } from '../../dictionary/uids.js';
import { InvalidOptionError } from '../../errors.js';
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
  try {
    checkRetrieveCall('move', identifier, destination, options);
  } catch (error) {
    return Promise.reject(error as Error);
  }
  return retrieve(association, 'move', model, identifier, destination, options);
}

export interface GetOptions extends RetrieveOptions {
  /** Store each received instance here (temp + rename, bit-preserving). */
  readonly store?: FileStore;
  /** Or stream each instance to this handler (see scp/storage.ts `storageHandler`). */
  readonly onInstance?: (instance: ReceivedInstance) => Promise<void> | void;
  /** Called after each instance is stored by `store`. */
  readonly onStored?: (instance: StoredInstance) => void;
  /** Called for each instance `store` refused or failed to keep (its SOP Instance UID and why). */
  readonly onFailed?: (error: Error, sopInstanceUid: string) => void;
}

/**
 * C-GET: the instances come back as C-STORE-RQs on this association and go to `store` or
 * `onInstance`, registered on `handlers` (the association's registry) for the duration. Without
 * either, a C-STORE-RQ handler must already be registered.
 */
export async function get(association: Association, handlers: HandlerRegistry, model: QueryModelName, identifier: NaturalDataset, options: GetOptions = {}): Promise<RetrieveResult> {
  checkRetrieveCall('get', identifier, undefined, options);
  const own = options.store !== undefined || options.onInstance !== undefined;
  if (own) {
    handlers.register(
      'C-STORE-RQ',
      storageHandler(
        options.store !== undefined
          ? {
              store: options.store,
              ...(options.onStored === undefined ? {} : { onStored: options.onStored }),
              ...(options.onFailed === undefined ? {} : { onFailed: (error: Error, request: { affectedSopInstanceUid: string }) => options.onFailed!(error, request.affectedSopInstanceUid) }),
            }
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

/**
 * Image storage classes a retrieve most often brings: proposed first, each with its own context
 * per compressed syntax of {@link RETRIEVE_COMPRESSED_TRANSFER_SYNTAXES} (so a compressed
 * instance travels as stored), besides one uncompressed context.
 */
export const COMMON_STORAGE_SOP_CLASSES: readonly string[] = [
  StorageSopClass.CtImageStorage,
  StorageSopClass.MrImageStorage,
  StorageSopClass.UltrasoundImageStorage,
  StorageSopClass.UltrasoundMultiFrameImageStorage,
  StorageSopClass.ComputedRadiographyImageStorage,
  StorageSopClass.DigitalXRayImageStorageForPresentation,
  StorageSopClass.DigitalMammographyXRayImageStorageForPresentation,
  StorageSopClass.SecondaryCaptureImageStorage,
  StorageSopClass.XRayAngiographicImageStorage,
];

/**
 * Storage classes proposed next, uncompressed only, before the rest of the dictionary's: the
 * other modalities' images, multi-frame secondary capture, presentation states, SR, PDF, RT.
 */
export const FURTHER_STORAGE_SOP_CLASSES: readonly string[] = [
  StorageSopClass.EnhancedCtImageStorage,
  StorageSopClass.EnhancedMrImageStorage,
  StorageSopClass.XRayRadiofluoroscopicImageStorage,
  StorageSopClass.NuclearMedicineImageStorage,
  StorageSopClass.PositronEmissionTomographyImageStorage,
  StorageSopClass.EnhancedPetImageStorage,
  StorageSopClass.MultiFrameSingleBitSecondaryCaptureImageStorage,
  StorageSopClass.MultiFrameGrayscaleByteSecondaryCaptureImageStorage,
  StorageSopClass.MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
  StorageSopClass.MultiFrameTrueColorSecondaryCaptureImageStorage,
  StorageSopClass.DigitalXRayImageStorageForProcessing,
  StorageSopClass.DigitalMammographyXRayImageStorageForProcessing,
  StorageSopClass.BreastTomosynthesisImageStorage,
  StorageSopClass.EnhancedXaImageStorage,
  StorageSopClass.GrayscaleSoftcopyPresentationStateStorage,
  StorageSopClass.KeyObjectSelectionDocumentStorage,
  StorageSopClass.BasicTextSrStorage,
  StorageSopClass.EnhancedSrStorage,
  StorageSopClass.ComprehensiveSrStorage,
  StorageSopClass.XRayRadiationDoseSrStorage,
  StorageSopClass.EncapsulatedPdfStorage,
  StorageSopClass.RtImageStorage,
  StorageSopClass.RtDoseStorage,
  StorageSopClass.RtStructureSetStorage,
  StorageSopClass.RtPlanStorage,
  StorageSopClass.VlPhotographicImageStorage,
  StorageSopClass.VideoPhotographicImageStorage,
  StorageSopClass.SegmentationStorage,
];

/** The uncompressed syntaxes, proposed together in one context per class. */
export const RETRIEVE_UNCOMPRESSED_TRANSFER_SYNTAXES: readonly string[] = [TransferSyntax.ExplicitVrLittleEndian, TransferSyntax.ImplicitVrLittleEndian];

/**
 * Compressed syntaxes for the common classes, one context each: the peer picks one syntax per
 * context (PS3.8 9.3.3.2), so a list in one context would carry only one of them. A received
 * instance is stored as it arrives (no codec needed on our side).
 */
export const RETRIEVE_COMPRESSED_TRANSFER_SYNTAXES: readonly string[] = [
  TransferSyntax.JpegLosslessSv1,
  TransferSyntax.JpegBaseline8Bit,
  TransferSyntax.JpegExtended12Bit,
  TransferSyntax.Jpeg2000Lossless,
  TransferSyntax.Jpeg2000,
  TransferSyntax.JpegLsLossless,
  TransferSyntax.RleLossless,
];


export interface GetContextsOptions {
  readonly models?: readonly QueryModelName[];
  /**
   * The storage classes to receive, each proposed like the common ones (uncompressed plus each
   * compressed syntax, as room allows). Default: {@link COMMON_STORAGE_SOP_CLASSES}, then
   * {@link FURTHER_STORAGE_SOP_CLASSES} and every other storage class of the dictionary,
   * uncompressed, while room is left.
   */
  readonly storageSopClasses?: readonly string[];
  /**
   * The syntaxes to propose for each class: the uncompressed ones together in one context, each
   * other one in a context of its own. Default: {@link RETRIEVE_UNCOMPRESSED_TRANSFER_SYNTAXES}
   * and {@link RETRIEVE_COMPRESSED_TRANSFER_SYNTAXES}.
   */
  readonly transferSyntaxes?: readonly string[];
  /** Also propose the SCU role for the storage classes (to C-STORE on the same association). Default false. */
  readonly scuRole?: boolean;
  /** Contexts in all, the GET contexts included (leave room for contexts of your own). Default 128. */
  readonly maxContexts?: number;
}

function uncompressed(ts: string): boolean {
  const p = transferSyntaxProperties(ts);
  return !p.encapsulated && !p.deflated && !p.referencedPixelData;
}

/**
 * Presentation contexts and role selection for C-GET (PS3.4 C.4.3.1: the SCU proposes the
 * storage contexts and the SCP role for them): the GET SOP class(es), then, within the 128
 * contexts an association can carry, (1) an uncompressed context for each chosen class, (2) a
 * context per compressed syntax for the chosen classes in order, (3) by default an uncompressed
 * context for the further storage classes while room is left.
 */
export function getContexts(options: GetContextsOptions = {}): { presentationContexts: RequestedContext[]; roles: RoleProposal[] } {
  const max = options.maxContexts ?? MAX_PRESENTATION_CONTEXTS;
  if (!Number.isInteger(max) || max < 1 || max > MAX_PRESENTATION_CONTEXTS) {
    throw new InvalidOptionError('maxContexts', `must be an integer 1–${MAX_PRESENTATION_CONTEXTS}, got ${String(max)}`);
  }
  const models = options.models ?? ['STUDY_ROOT', 'PATIENT_ROOT'];
  const ts = options.transferSyntaxes ?? [...RETRIEVE_UNCOMPRESSED_TRANSFER_SYNTAXES, ...RETRIEVE_COMPRESSED_TRANSFER_SYNTAXES];
  if (ts.length === 0) throw new InvalidOptionError('transferSyntaxes', 'must name at least one transfer syntax');
  const plain = ts.filter(uncompressed);
  const others = ts.filter((t) => !uncompressed(t));
  const chosen = [...new Set(options.storageSopClasses ?? COMMON_STORAGE_SOP_CLASSES)];
  const contexts: RequestedContext[] = models.map((m) => ({ abstractSyntax: sopClassFor(m, 'get'), transferSyntaxes: [...RETRIEVE_UNCOMPRESSED_TRANSFER_SYNTAXES] }));
  const room = (): number => max - contexts.length;
  // (1) Every chosen class can arrive at least uncompressed (or in the first syntax named).
  const first = plain.length > 0 ? plain : [others[0]!];
  if (chosen.length > room()) {
    throw new InvalidOptionError('storageSopClasses', `${chosen.length} storage SOP classes need more than the ${room()} presentation contexts left of ${max}`);
  }
  for (const c of chosen) contexts.push({ abstractSyntax: c, transferSyntaxes: first });
  // (2) The compressed syntaxes, class by class, as room allows.
  const rest = plain.length > 0 ? others : others.slice(1);
  for (const c of chosen) for (const t of rest) if (room() > 0) contexts.push({ abstractSyntax: c, transferSyntaxes: [t] });
  // (3) By default, the other storage classes uncompressed while room is left.
  if (options.storageSopClasses === undefined && plain.length > 0) {
    const further = [...new Set([...FURTHER_STORAGE_SOP_CLASSES, ...Object.values(StorageSopClass)])].filter((c) => !chosen.includes(c));
    for (const c of further) if (room() > 0) contexts.push({ abstractSyntax: c, transferSyntaxes: plain });
  }
  const storageClasses = [...new Set(contexts.slice(models.length).map((c) => c.abstractSyntax))];
  return {
    presentationContexts: contexts,
    roles: storageClasses.map((c) => ({ sopClassUid: c, scuRole: options.scuRole === true, scpRole: true })),
  };
}
