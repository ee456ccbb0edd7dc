/**
 * What an association we requested sends: C-FIND and C-MOVE identifiers (for Query, A.5.3.10, and
 * the move's record), and by C-STORE (the `store` command, any StoreScu use), for
 * DICOM Instances Transferred (PS3.15 A.5.3.7) with us as the Source. The C-STORE-RQ names the
 * instance; its study and patient come from the data set as it goes out: the first P-DATA
 * fragments after the command are fed to a head scanner (identifying attributes only, the rest is
 * never kept) until it has passed them. The C-STORE-RSP says whether the peer took it.
 */
import type { Association } from '../ae/association.js';
import type { DimseCommand } from '../dimse/messages.js';
import { statusClass, StatusClass } from '../dictionary/status.js';
import { DatasetHeadScanner, headText } from '../store/dataset-head.js';
import type { Pdu } from '../ul/pdu/types.js';
import type { UpperLayer } from '../ul/upper-layer.js';
import type { StudyTransfer } from './events.js';

export interface SentInstance {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly messageId: number;
  studyInstanceUid?: string | undefined;
  patientId?: string | undefined;
  patientName?: string | undefined;
  accessionNumber?: string | undefined;
  /** The C-STORE-RSP status class; undefined while unanswered (never answered counts as not taken). */
  taken?: boolean | undefined;
}

interface Scanning { readonly pcId: number; readonly instance: SentInstance; readonly scanner: DatasetHeadScanner }
interface Collecting { readonly association: Association; readonly pcId: number; readonly command: DimseCommand; readonly transferSyntaxUid: string; readonly chunks: Uint8Array[]; size: number }

/** A request's identifier (C-FIND, C-MOVE) larger than this is not kept for the record. */
const MAX_IDENTIFIER = 1 << 20;

/** A request data set we sent (a C-FIND or C-MOVE identifier), whole, with its transfer syntax. */
export type OnRequestSent = (association: Association, command: DimseCommand, transferSyntaxUid: string, dataset: Uint8Array) => void;

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const DEFLATED = '1.2.840.10008.1.2.1.99';

export class Outgoing {
  readonly #sent = new Map<UpperLayer, { association: Association; instances: SentInstance[] }>();
  readonly #scanning = new Map<UpperLayer, Scanning>();
  readonly #collecting = new Map<UpperLayer, Collecting>();
  readonly #onRequest: OnRequestSent;

  constructor(onRequest: OnRequestSent) {
    this.#onRequest = onRequest;
  }

  /** A DIMSE message on an association: C-STORE-RQ sent by its requestor, or the C-STORE-RSP to one. */
  onDimse(association: Association, direction: 'sent' | 'received', command: DimseCommand, pcId: number): void {
    if (association.role !== 'requestor') return;
    const ul = association.upperLayer;
    if (direction === 'sent' && (command.type === 'C-FIND-RQ' || command.type === 'C-MOVE-RQ')) {
      const ts = association.info.contexts.get(pcId)?.transferSyntax;
      if (ts !== undefined) this.#collecting.set(ul, { association, pcId, command, transferSyntaxUid: ts, chunks: [], size: 0 });
      return;
    }
    // A C-MOVE's sub-operation (it names the move originator) is recorded from the retrieve's events.
    if (direction === 'sent' && command.type === 'C-STORE-RQ' && command.moveOriginatorApplicationEntityTitle === undefined) {
      let acc = this.#sent.get(ul);
      if (acc === undefined) this.#sent.set(ul, (acc = { association, instances: [] }));
      const instance: SentInstance = { sopClassUid: command.affectedSopClassUid, sopInstanceUid: command.affectedSopInstanceUid, messageId: command.messageId };
      acc.instances.push(instance);
      const ts = association.info.contexts.get(pcId)?.transferSyntax;
      // A deflated data set would have to be inflated to be read: its study stays unknown.
      if (ts !== undefined && ts !== DEFLATED) {
        this.#scanning.set(ul, { pcId, instance, scanner: new DatasetHeadScanner({ explicitVr: ts !== IMPLICIT_LE, bigEndian: ts === EXPLICIT_BE }) });
      }
      return;
    }
    if (direction === 'received' && command.type === 'C-STORE-RSP') {
      const acc = this.#sent.get(ul);
      const instance = acc?.instances.find((i) => i.messageId === command.messageIdBeingRespondedTo && i.taken === undefined);
      if (instance !== undefined) instance.taken = statusClass(command.status) !== StatusClass.Failure;
    }
  }

  /** A PDU we sent: the data set fragments of the C-STORE-RQ being scanned. */
  onPduSent(ul: UpperLayer, pdu: Pdu): void {
    if (pdu.type !== 'P-DATA-TF') return;
    const c = this.#collecting.get(ul);
    if (c !== undefined) {
      for (const pdv of pdu.pdvs) {
        if (pdv.isCommand || pdv.presentationContextId !== c.pcId) continue;
        c.size += pdv.data.length;
        if (c.size > MAX_IDENTIFIER) { this.#collecting.delete(ul); return; }
        c.chunks.push(Buffer.from(pdv.data)); // a copy: the sender may reuse its buffers
        if (pdv.isLast) {
          this.#collecting.delete(ul);
          this.#onRequest(c.association, c.command, c.transferSyntaxUid, Buffer.concat(c.chunks));
          return;
        }
      }
      return;
    }
    const s = this.#scanning.get(ul);
    if (s === undefined) return;
    for (const pdv of pdu.pdvs) {
      if (pdv.isCommand || pdv.presentationContextId !== s.pcId) continue;
      try {
        s.scanner.push(pdv.data);
      } catch {
        // A data set the scanner cannot walk: sent all the same, its study stays unknown.
        this.#scanning.delete(ul);
        return;
      }
      if (s.scanner.done || pdv.isLast) {
        this.#scanning.delete(ul);
        const v = s.scanner.values;
        const charset = headText(v.get(0x0008_0005), '');
        const text = (tag: number): string | undefined => { const t = headText(v.get(tag), charset); return t === '' ? undefined : t; };
        s.instance.studyInstanceUid = text(0x0020_000d);
        s.instance.patientId = text(0x0010_0020);
        s.instance.patientName = text(0x0010_0010);
        s.instance.accessionNumber = text(0x0008_0050);
        return;
      }
    }
  }

  /** The association ended: what it sent, and forget it. */
  take(ul: UpperLayer): { association: Association; instances: SentInstance[] } | undefined {
    const acc = this.#sent.get(ul);
    this.#sent.delete(ul);
    this.#scanning.delete(ul);
    this.#collecting.delete(ul);
    return acc;
  }

  /** Every association still open (at the trail's stop). */
  takeAll(): { association: Association; instances: SentInstance[] }[] {
    const all = [...this.#sent.values()];
    this.#sent.clear();
    this.#scanning.clear();
    this.#collecting.clear();
    return all;
  }
}

/** Sent instances grouped by study: the study with the SOP classes of the instances the peer took (all when it took none), and the counts. */
export function sentByStudy(instances: readonly SentInstance[]): { study: StudyTransfer; all: number; taken: number }[] {
  const studies = new Map<string, SentInstance[]>();
  for (const i of instances) {
    const uid = i.studyInstanceUid ?? 'unknown';
    const list = studies.get(uid) ?? [];
    list.push(i);
    studies.set(uid, list);
  }
  return [...studies].map(([uid, list]) => {
    const taken = list.filter((i) => i.taken === true);
    const sopClasses = new Map<string, string[]>();
    for (const i of taken.length > 0 ? taken : list) sopClasses.set(i.sopClassUid, [...(sopClasses.get(i.sopClassUid) ?? []), i.sopInstanceUid]);
    const first = list.find((i) => i.patientId !== undefined || i.patientName !== undefined) ?? list[0]!;
    return {
      study: { studyInstanceUid: uid, patientId: first.patientId, patientName: first.patientName, accessionNumber: first.accessionNumber, sopClasses },
      all: list.length,
      taken: taken.length,
    };
  });
}

/** The Study Instance UIDs (list-of-UID matching: several) and Patient ID of a C-MOVE identifier. */
export function identifierKeys(dataset: Uint8Array, transferSyntaxUid: string): { studies: string[]; patientId: string | undefined } {
  if (transferSyntaxUid === DEFLATED) return { studies: [], patientId: undefined };
  try {
    const scanner = new DatasetHeadScanner({ explicitVr: transferSyntaxUid !== IMPLICIT_LE, bigEndian: transferSyntaxUid === EXPLICIT_BE });
    scanner.push(dataset);
    const v = scanner.values;
    const charset = headText(v.get(0x0008_0005), '');
    const studies = headText(v.get(0x0020_000d), charset).split('\\').map((s) => s.trim()).filter((s) => s !== '');
    const patientId = headText(v.get(0x0010_0020), charset);
    return { studies, patientId: patientId === '' ? undefined : patientId };
  } catch {
    return { studies: [], patientId: undefined };
  }
}
