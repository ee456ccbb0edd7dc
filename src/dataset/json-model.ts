/**
 * The DICOM JSON Model (PS3.18 Annex F.2) of a decoded data set: an object keyed by the tag as
 * eight upper-case hex digits, each attribute `{ vr, Value | InlineBinary }`, from dcmjs's
 * denaturalized form (which is that model but for numbers kept as strings, empty values kept as
 * "", binary values as ArrayBuffers and AT values as numbers).
 */
import type { DcmjsDict } from './dcmjs.js';

export interface DicomJsonAttribute {
  readonly vr: string;
  readonly Value?: readonly unknown[];
  readonly InlineBinary?: string;
}
export type DicomJsonDataset = { readonly [tag: string]: DicomJsonAttribute };

/** VRs whose value is bytes: InlineBinary, base64 (F.2.7). */
const BINARY = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
/** VRs that are JSON Numbers (F.2.3.1), IS and DS included. */
const NUMBER = new Set(['IS', 'DS', 'SL', 'SS', 'SV', 'UL', 'US', 'UV', 'FL', 'FD']);

function bytesOf(v: unknown): Uint8Array | undefined {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

function numberOf(v: unknown): unknown {
  if (typeof v === 'number' || typeof v === 'bigint') return typeof v === 'bigint' ? Number(v) : v;
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (t === '') return null;
  const n = Number(t);
  // A value that is not a number (a malformed IS/DS) is kept as the text it was.
  return Number.isFinite(n) ? n : v;
}

function personName(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v === '' ? null : { Alphabetic: v };
  const out: Record<string, string> = {};
  for (const group of ['Alphabetic', 'Ideographic', 'Phonetic'] as const) {
    const g = (v as Record<string, unknown>)[group];
    if (typeof g === 'string' && g !== '') out[group] = g;
  }
  return Object.keys(out).length === 0 ? null : out;
}

function tagString(v: unknown): unknown {
  return typeof v === 'number' ? v.toString(16).toUpperCase().padStart(8, '0') : v;
}

function attribute(vr: string, values: readonly unknown[] | undefined): DicomJsonAttribute {
  if (values === undefined || values.length === 0) return { vr };
  if (BINARY.has(vr)) {
    const parts = values.map(bytesOf).filter((b): b is Uint8Array => b !== undefined);
    const total = parts.reduce((n, b) => n + b.length, 0);
    return total === 0 ? { vr } : { vr, InlineBinary: Buffer.concat(parts).toString('base64') };
  }
  let out: unknown[];
  if (vr === 'SQ') out = values.map((item) => toDicomJson(item as DcmjsDict));
  else if (vr === 'PN') out = values.map(personName);
  else if (vr === 'AT') out = values.map(tagString);
  else if (NUMBER.has(vr)) out = values.map(numberOf);
  else out = values.map((v) => (v === '' || v === undefined ? null : v));
  // A single empty value is an attribute without a value (F.2.5: no "Value").
  return vr !== 'SQ' && out.every((v) => v === null) ? { vr } : { vr, Value: out };
}

/** The DICOM JSON Model of a dcmjs denaturalized data set (see `decodeDatasetDict`). */
export function toDicomJson(dict: DcmjsDict): DicomJsonDataset {
  const out: Record<string, DicomJsonAttribute> = {};
  for (const tag of Object.keys(dict).sort()) {
    if (!/^[0-9A-Fa-f]{8}$/.test(tag)) continue; // dcmjs bookkeeping, never an attribute
    const element = dict[tag]!;
    out[tag.toUpperCase()] = attribute(element.vr, element.Value);
  }
  return out;
}
