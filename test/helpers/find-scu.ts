/**
 * The requesting side of the server-budget tests: an association from SCU to SCP on 127.0.0.1,
 * and Study Root C-FIND requests whose identifier is as large as the test needs.
 */
import { DicomClient } from '../../src/ae/client.js';
import type { PendingRequest } from '../../src/ae/association.js';
import type { AsynchronousOperationsWindow } from '../../src/acse/asynchronous-operations.js';
import { QueryRetrieveSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import type { SecureContext } from '../../src/transport/tls/context.js';
import { encodeDataset } from './dicom-data.js';

export const STUDY_ROOT_FIND = QueryRetrieveSopClass.StudyRootQueryRetrieveInformationModelFind;

export interface FindScuOptions {
  /** One presentation context each, in Explicit VR Little Endian. */
  abstractSyntaxes: readonly string[];
  timeouts: { connect: number; association: number; dimse: number };
  tls?: SecureContext | undefined;
  asynchronousOperations?: AsynchronousOperationsWindow | undefined;
}

export function associateScu(port: number, o: FindScuOptions): Promise<DicomClient> {
  return DicomClient.associate({
    host: '127.0.0.1',
    port,
    ...(o.tls === undefined ? {} : { tls: o.tls }),
    callingAeTitle: 'SCU',
    calledAeTitle: 'SCP',
    presentationContexts: o.abstractSyntaxes.map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: [TransferSyntax.ExplicitVrLittleEndian] })),
    ...(o.asynchronousOperations === undefined ? {} : { asynchronousOperations: o.asynchronousOperations }),
    timeouts: o.timeouts,
  });
}

/** A C-FIND identifier of about `size` bytes (the bulk in an element the index does not keep). */
export function findIdentifier(size: number): Buffer {
  return encodeDataset([
    [0x00080052, 'CS', 'STUDY'],
    [0x00420011, 'OB', Buffer.alloc(size, 7)],
  ]);
}

/** A Study Root C-FIND-RQ with `bytes` as its identifier. */
export function findRequest(client: DicomClient, bytes: Uint8Array): PendingRequest {
  return client.association.request({ type: 'C-FIND-RQ', affectedSopClassUid: STUDY_ROOT_FIND, priority: 0 }, { dataset: bytes });
}
