/**
 * Query keys the way DCMTK's findscu/movescu/getscu take them: `-k Keyword=value`,
 * `-k gggg,eeee=value`, or just `-k Keyword` for a return key (asked for, empty). Values follow
 * PS3.4 C.2.2.2 matching (wildcards `*` `?`, ranges `a-b`, UID lists `a\b`) and are passed on as
 * text; the matching is the SCP's business.
 */
import { usageError } from './errors.js';

export const queryLevels = ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'] as const;
export type QueryLevelName = (typeof queryLevels)[number];
export const queryRoots = ['patient', 'study', 'worklist'] as const;
export type QueryRoot = (typeof queryRoots)[number];

/** Keywords of the keys people use most, so the common case needs no dictionary load. */
const COMMON: Readonly<Record<string, string>> = {
  '0008,0018': 'SOPInstanceUID', '0008,0020': 'StudyDate', '0008,0030': 'StudyTime', '0008,0050': 'AccessionNumber',
  '0008,0052': 'QueryRetrieveLevel', '0008,0060': 'Modality', '0008,0061': 'ModalitiesInStudy', '0008,1030': 'StudyDescription',
  '0008,103E': 'SeriesDescription', '0010,0010': 'PatientName', '0010,0020': 'PatientID', '0010,0030': 'PatientBirthDate',
  '0010,0040': 'PatientSex', '0020,000D': 'StudyInstanceUID', '0020,000E': 'SeriesInstanceUID', '0020,0010': 'StudyID',
  '0020,0011': 'SeriesNumber', '0020,0013': 'InstanceNumber', '0020,1208': 'NumberOfStudyRelatedInstances',
};
const COMMON_KEYWORDS = new Set(Object.values(COMMON));

/** One step of a `-k` path: a keyword, and for a sequence the item index (`[0]`). */
export interface KeyStep { readonly keyword: string; readonly item?: number }

/**
 * A parsed `-k`: `keyword` is the top-level attribute; `path` (findscu's sequence syntax,
 * `ReferencedStudySequence[0].ReferencedSOPInstanceUID=…`) is set when it reaches into items.
 */
export interface QueryKey { readonly keyword: string; readonly value: string; readonly path?: readonly KeyStep[] }

/** Parses `-k` texts into keywords and values; unknown keywords/tags are usage errors. */
export async function parseQueryKeys(texts: readonly string[]): Promise<QueryKey[]> {
  const keys: QueryKey[] = [];
  for (const text of texts) {
    const eq = text.indexOf('=');
    const name = (eq < 0 ? text : text.slice(0, eq)).trim();
    const value = eq < 0 ? '' : text.slice(eq + 1);
    const segments = name.split('.');
    if (segments.length === 1 && !name.endsWith(']')) { keys.push({ keyword: await keywordOf(name), value }); continue; }
    const path: KeyStep[] = [];
    for (const [i, segment] of segments.entries()) {
      const m = /^(.+?)(?:\[(\d+)\])?$/.exec(segment.trim());
      if (m === null || (m[2] === undefined && i < segments.length - 1)) throw usageError(`-k ${name}: each sequence in a path needs its item number, e.g. ReferencedStudySequence[0].ReferencedSOPInstanceUID`);
      path.push({ keyword: await keywordOf(m[1]!), ...(m[2] !== undefined ? { item: Number(m[2]) } : {}) });
    }
    keys.push({ keyword: path[0]!.keyword, value, path });
  }
  return keys;
}

async function keywordOf(name: string): Promise<string> {
  const tag = /^\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?$/.exec(name);
  if (tag !== null) {
    const key = `${tag[1]!.toUpperCase()},${tag[2]!.toUpperCase()}`;
    if (COMMON[key] !== undefined) return COMMON[key]!;
    const { dcmjs } = await import('../dataset/dcmjs.js');
    const entry = dcmjs.data.DicomMetaDictionary.dictionary[`(${key})`] as { name?: string } | undefined;
    if (entry?.name === undefined) throw usageError(`-k ${name}: the tag (${key}) is not in the DICOM dictionary`);
    return entry.name;
  }
  if (/^[A-Za-z][A-Za-z0-9]*$/.test(name)) {
    if (COMMON_KEYWORDS.has(name)) return name;
    const { dcmjs } = await import('../dataset/dcmjs.js');
    if (dcmjs.data.DicomMetaDictionary.nameMap[name] === undefined) throw usageError(`-k ${name}: no such DICOM keyword (e.g. PatientName, StudyDate, 0010,0020)`);
    return name;
  }
  throw usageError(`-k ${name}: give a keyword (PatientName) or a tag (0010,0010), then =value`);
}

/**
 * A `-k` value as the data set holds it: a backslash separates values (PS3.5 6.4; a UID list,
 * PS3.4 C.2.2.2.2), so `a\b` is two values, as findscu makes it. Kept as one string, a list longer
 * than one value may be (64 characters for a UID) was cut to that length when encoded, and the
 * UIDs past it were never asked for.
 */
function valueOf(text: string): string | string[] {
  return text.includes('\\') ? text.split('\\') : text;
}

/** The identifier data set (naturalized, dcmjs style: sequences are arrays of items) with QueryRetrieveLevel set. */
export function identifier(keys: readonly QueryKey[], level: QueryLevelName | undefined): Record<string, unknown> {
  const ds: Record<string, unknown> = {};
  for (const k of keys) {
    if (k.path === undefined) { ds[k.keyword] = valueOf(k.value); continue; }
    let node = ds;
    for (const [i, step] of k.path.entries()) {
      const last = i === k.path.length - 1;
      if (step.item === undefined) { node[step.keyword] = valueOf(k.value); break; }
      // findscu: `Seq[0]` alone (no value) is an empty item, an item path makes the items up to it.
      const items = Array.isArray(node[step.keyword]) ? node[step.keyword] as Record<string, unknown>[] : [];
      node[step.keyword] = items;
      while (items.length <= step.item) items.push({});
      node = items[step.item]!;
      if (last && k.value !== '') throw usageError(`-k ${k.path.map((p) => p.keyword).join('.')}: an item takes no value; name an attribute inside it`);
    }
  }
  if (level !== undefined) ds.QueryRetrieveLevel = level;
  return ds;
}

/** The level from --level or, like findscu, from a QueryRetrieveLevel key. */
export function levelFrom(option: string | undefined, keys: readonly QueryKey[], fallback: QueryLevelName): QueryLevelName {
  const text = (option ?? keys.find((k) => k.keyword === 'QueryRetrieveLevel')?.value ?? fallback).toUpperCase();
  if (!(queryLevels as readonly string[]).includes(text)) throw usageError(`--level must be one of ${queryLevels.join(', ')}; got "${text}"`);
  return text as QueryLevelName;
}

export const queryKeyHelp = `  -k, --query KEY[=VALUE] a matching key (repeatable): keyword, gggg,eeee or (gggg,eeee), e.g.
                         -k PatientName=DOE^* -k StudyDate=20240101-20240131 -k 0020,000D
                         (no value: a return key); into sequences as findscu does:
                         -k 'ReferencedStudySequence[0].ReferencedSOPInstanceUID=1.2.3'
  --level L              PATIENT | STUDY | SERIES | IMAGE (or -k QueryRetrieveLevel=L)
  --root R               information model: patient | study (default) | worklist
                         (DCMTK's -P, -S, -W)`;
