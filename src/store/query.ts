import type { InstanceIndex, RetrieveInstance } from './instance-index.js';
import { StoreError, storeErrorCodes } from './errors.js';
import { normalizeTime, personNameMatches } from './text-match.js';
import type { SqlDialect } from './sql-dialect.js';

export type { RetrieveInstance } from './instance-index.js';

/**
 * C-FIND against the index (PS3.4 C.2.2.2 matching, C.4.1 hierarchical search) and the retrieve
 * side for C-MOVE / C-GET. Identifiers and matches use dcmjs's "naturalized" form: keyword keys,
 * a single value as a scalar, several as an array, PN as [{ Alphabetic, Ideographic, Phonetic }].
 */

export const queryLevels = ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'] as const;
export type QueryLevel = (typeof queryLevels)[number];

/** PS3.4 C.6.1 Patient Root, C.6.2 Study Root. */
export const informationModels = ['PATIENT_ROOT', 'STUDY_ROOT'] as const;
export type InformationModel = (typeof informationModels)[number];

export type NaturalizedValue = string | number | null | undefined | readonly unknown[] | Readonly<Record<string, unknown>>;
export type NaturalizedDataset = Readonly<Record<string, NaturalizedValue>>;

export interface FindOptions {
  /** PS3.4 C.2.2.2.1 allows PN to match case-insensitively; default false (as DCMTK). */
  readonly caseInsensitivePersonName?: boolean;
  /** Rows fetched per index round trip; default 200. */
  readonly pageSize?: number;
  /**
   * Rows of the query level's table examined per step: default 2000 on the embedded index, which
   * runs in this process (between steps the event loop runs: new connections, C-ECHO, other
   * queries; a query that matches few of many rows never holds the process for a whole table
   * scan); unbounded on PostgreSQL, which scans on its server while the event loop goes on (one
   * round trip per page, not per 2000 rows).
   */
  readonly scanChunk?: number;
}

const levelTableName: Readonly<Record<QueryLevel, string>> = { PATIENT: 'patient', STUDY: 'study', SERIES: 'series', IMAGE: 'instance' };

/** Let timers and I/O run: a resolved promise alone (microtasks) would not. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Kind = 'text' | 'PN' | 'UI' | 'DA' | 'TM' | 'DT' | 'IS' | 'modalities' | 'count' | 'sequence';
interface Attribute {
  readonly level: QueryLevel;
  readonly kind: Kind;
  /** SQL expression of the value in the joined row (for a sequence: a JSON array of items). */
  readonly sql: string;
  /** For a sequence: the keys its items may be matched on and return. */
  readonly nested?: readonly string[];
}

const levelRank: Readonly<Record<QueryLevel, number>> = { PATIENT: 0, STUDY: 1, SERIES: 2, IMAGE: 3 };
const levelTable: Readonly<Record<QueryLevel, string>> = { PATIENT: 'p', STUDY: 'st', SERIES: 'se', IMAGE: 'i' };

/** The keys the index can match and return (PS3.4 C.6.1.1 / C.6.2.1 tables). */
const attributes: Readonly<Record<string, Attribute>> = {
  PatientName: { level: 'PATIENT', kind: 'PN', sql: 'p.patient_name' },
  PatientID: { level: 'PATIENT', kind: 'text', sql: 'p.patient_id' },
  PatientBirthDate: { level: 'PATIENT', kind: 'DA', sql: 'p.patient_birth_date' },
  PatientSex: { level: 'PATIENT', kind: 'text', sql: 'p.patient_sex' },
  NumberOfPatientRelatedStudies: { level: 'PATIENT', kind: 'count', sql: '(SELECT count(*) FROM study x WHERE x.patient_fk = p.id)' },
  NumberOfPatientRelatedSeries: { level: 'PATIENT', kind: 'count', sql: '(SELECT count(*) FROM study x JOIN series y ON y.study_fk = x.id WHERE x.patient_fk = p.id)' },
  NumberOfPatientRelatedInstances: {
    level: 'PATIENT',
    kind: 'count',
    sql: '(SELECT count(*) FROM study x JOIN series y ON y.study_fk = x.id JOIN instance z ON z.series_fk = y.id WHERE x.patient_fk = p.id)',
  },
  StudyInstanceUID: { level: 'STUDY', kind: 'UI', sql: 'st.study_uid' },
  StudyDate: { level: 'STUDY', kind: 'DA', sql: 'st.study_date' },
  StudyTime: { level: 'STUDY', kind: 'TM', sql: 'st.study_time' },
  AccessionNumber: { level: 'STUDY', kind: 'text', sql: 'st.accession_number' },
  StudyID: { level: 'STUDY', kind: 'text', sql: 'st.study_id' },
  StudyDescription: { level: 'STUDY', kind: 'text', sql: 'st.study_description' },
  ReferringPhysicianName: { level: 'STUDY', kind: 'PN', sql: 'st.referring_physician_name' },
  ProcedureCodeSequence: { level: 'STUDY', kind: 'sequence', sql: 'st.procedure_codes', nested: ['CodeValue', 'CodingSchemeDesignator', 'CodeMeaning'] },
  // The SQL is the dialect's (sqlOf): each database joins distinct values its own way.
  ModalitiesInStudy: { level: 'STUDY', kind: 'modalities', sql: '' },
  NumberOfStudyRelatedSeries: { level: 'STUDY', kind: 'count', sql: '(SELECT count(*) FROM series y WHERE y.study_fk = st.id)' },
  NumberOfStudyRelatedInstances: { level: 'STUDY', kind: 'count', sql: '(SELECT count(*) FROM series y JOIN instance z ON z.series_fk = y.id WHERE y.study_fk = st.id)' },
  SeriesInstanceUID: { level: 'SERIES', kind: 'UI', sql: 'se.series_uid' },
  Modality: { level: 'SERIES', kind: 'text', sql: 'se.modality' },
  SeriesNumber: { level: 'SERIES', kind: 'IS', sql: 'se.series_number' },
  SeriesDescription: { level: 'SERIES', kind: 'text', sql: 'se.series_description' },
  RequestAttributesSequence: { level: 'SERIES', kind: 'sequence', sql: 'se.request_attributes', nested: ['RequestedProcedureID', 'ScheduledProcedureStepID'] },
  NumberOfSeriesRelatedInstances: { level: 'SERIES', kind: 'count', sql: '(SELECT count(*) FROM instance z WHERE z.series_fk = se.id)' },
  SOPInstanceUID: { level: 'IMAGE', kind: 'UI', sql: 'i.sop_uid' },
  SOPClassUID: { level: 'IMAGE', kind: 'UI', sql: 'i.sop_class_uid' },
  InstanceNumber: { level: 'IMAGE', kind: 'IS', sql: 'i.instance_number' },
};

/** Unique keys of each level (PS3.4 C.6.1.1.x / C.6.2.1.x). */
const uniqueKey: Readonly<Record<QueryLevel, string>> = {
  PATIENT: 'PatientID',
  STUDY: 'StudyInstanceUID',
  SERIES: 'SeriesInstanceUID',
  IMAGE: 'SOPInstanceUID',
};

/** The SQL expression of an attribute in `dialect`. */
function sqlOf(attr: Attribute, dialect: SqlDialect): string {
  return attr.kind === 'modalities' ? dialect.distinctJoined('y.modality', "FROM series y WHERE y.study_fk = st.id AND y.modality <> ''") : attr.sql;
}

/**
 * Parameters of one statement: `bind` keeps a value and returns the dialect's placeholder.
 * Conditions the dialect cannot run in SQL (Person Name matching on PostgreSQL) are kept as
 * `filters` over extra selected columns, applied to the fetched rows.
 */
class Statement {
  readonly values: unknown[] = [];
  readonly filters: { readonly column: string; readonly test: (value: unknown) => boolean }[] = [];
  readonly extraColumns: string[] = [];
  constructor(readonly dialect: SqlDialect) {}
  readonly bind = (value: unknown): string => {
    this.values.push(value);
    return this.dialect.placeholder(this.values.length);
  };
  filter(expr: string, test: (value: unknown) => boolean): void {
    const column = `f${this.filters.length}`;
    this.extraColumns.push(`${expr} AS ${column}`);
    this.filters.push({ column, test });
  }
}

function invalid(message: string): StoreError {
  return new StoreError(storeErrorCodes.invalidQuery, message);
}

/** The values of a naturalized key as strings: [] for universal matching (PS3.4 C.2.2.2.3). */
export function keyValues(value: NaturalizedValue): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const given of list) {
    // A key sent in a VR other than the dictionary's (Patient's Name as LO) comes from dcmjs as a
    // String object: its text, matched as the key it is, not a Person Name with no groups
    // (which matched as universal and answered every patient).
    const v = given instanceof String ? given.valueOf() : given;
    if (v === undefined || v === null) continue;
    if (typeof v === 'object') {
      // PN: the alphabetic group unless others are given (PS3.5 6.2.1).
      const pn = v as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
      const groups = [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''];
      while (groups.length > 1 && groups[groups.length - 1] === '') groups.pop();
      out.push(groups.join('='));
    } else {
      out.push(...String(v).split('\\'));
    }
  }
  const trimmed = out.map((s) => s.trim());
  return trimmed.every((s) => s === '') ? [] : trimmed;
}

function level(identifier: NaturalizedDataset): QueryLevel {
  const value = keyValues(identifier['QueryRetrieveLevel'])[0];
  if (value === undefined || !(queryLevels as readonly string[]).includes(value)) {
    throw invalid(`QueryRetrieveLevel must be one of ${queryLevels.join(', ')}; got ${JSON.stringify(identifier['QueryRetrieveLevel'])}`);
  }
  return value as QueryLevel;
}

/** PS3.4 C.4.1.2.1: unique keys of every level above the query level, single-valued. */
function checkHierarchy(model: InformationModel, queryLevel: QueryLevel, identifier: NaturalizedDataset): void {
  if (model === 'STUDY_ROOT' && queryLevel === 'PATIENT') throw invalid('Study Root has no PATIENT level (PS3.4 C.6.2)');
  const top = model === 'STUDY_ROOT' ? levelRank.STUDY : levelRank.PATIENT;
  for (const above of queryLevels) {
    if (levelRank[above] < top || levelRank[above] >= levelRank[queryLevel]) continue;
    const values = keyValues(identifier[uniqueKey[above]]);
    if (values.length !== 1 || /[*?]/.test(values[0]!)) {
      throw invalid(`${queryLevel} level in ${model} needs a single value of ${uniqueKey[above]} (PS3.4 C.4.1.2.1)`);
    }
  }
}

/** SQL condition for one key (PS3.4 C.2.2.2.1-C.2.2.2.5); undefined for universal matching (or a JS filter). */
function condition(key: string, attr: Attribute, raw: NaturalizedValue, q: Statement, options: FindOptions): string | undefined {
  if (attr.kind === 'sequence') return sequenceCondition(key, attr, raw, q, options);
  const values = keyValues(raw);
  if (values.length === 0 || attr.kind === 'count') return undefined;
  const d = q.dialect;
  const one = (v: string, kind: Kind, col: string = attr.sql): string | undefined => {
    if (kind === 'DA' || kind === 'DT' || kind === 'TM') {
      const dash = v.indexOf('-');
      const norm = kind === 'TM' ? (x: string, f: '0' | '9') => normalizeTime(x, f) : (x: string) => x.replace(/[.:]/g, '');
      const expr = kind === 'TM' ? d.time(col) : col;
      if (dash >= 0 && !(kind === 'DT' && /^[^-]*\d[-+]\d{4}$/.test(v))) {
        // Range matching (C.2.2.2.5): a-b, a-, -b; an empty stored value does not match.
        const lo = v.slice(0, dash).trim();
        const hi = v.slice(dash + 1).trim();
        const parts = [`${col} <> ''`];
        if (lo !== '') parts.push(`${expr} >= ${q.bind(norm(lo, '0'))}`);
        if (hi !== '') parts.push(kind === 'DT' ? `substr(${expr}, 1, ${hi.length}) <= ${q.bind(norm(hi, '9'))}` : `${expr} <= ${q.bind(norm(hi, '9'))}`);
        return `(${parts.join(' AND ')})`;
      }
      return `${expr} = ${q.bind(norm(v, '0'))}`;
    }
    if (kind === 'UI') return `${col} = ${q.bind(v)}`;
    if (kind === 'IS') return `${d.integer(col)} = ${d.integer(q.bind(v))} AND ${col} <> ''`;
    if (kind === 'PN') {
      // Component groups and case folding (text-match.ts): in SQL where the dialect can, else
      // on the fetched rows.
      const ci = options.caseInsensitivePersonName === true;
      if (d.personName !== undefined) return d.personName(col, v, ci, q.bind);
      q.filter(col, (value) => personNameMatches(String(value ?? ''), v, ci));
      return undefined;
    }
    if (/[*?]/.test(v)) return d.wildcard(col, v.normalize('NFC'), q.bind);
    return `${col} = ${q.bind(v.normalize('NFC'))}`;
  };
  if (attr.kind === 'modalities') {
    // ModalitiesInStudy matches when any series' Modality matches any given value.
    const ors = values.map((v) => one(v, 'text', 'y.modality'));
    return `EXISTS (SELECT 1 FROM series y WHERE y.study_fk = st.id AND (${ors.join(' OR ')}))`;
  }
  if (attr.kind === 'UI') {
    // List of UID matching (C.2.2.2.2).
    return `${attr.sql} IN (${values.map((v) => q.bind(v)).join(', ')})`;
  }
  if (values.length > 1) throw invalid(`${key} has ${values.length} values; only UIDs may be matched by list`);
  return one(values[0]!, attr.kind);
}

/** The one item of a sequence key (PS3.4 C.2.2.2.6), or undefined when it has none. */
function queryItem(key: string, raw: NaturalizedValue): Readonly<Record<string, NaturalizedValue>> | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) return undefined;
  if (list.length > 1 || typeof list[0] !== 'object' || list[0] === null) throw invalid(`${key} must hold a single item (PS3.4 C.2.2.2.6)`);
  return list[0] as Record<string, NaturalizedValue>;
}

/**
 * Sequence matching (PS3.4 C.2.2.2.6): a stored item matches when every key of the query item
 * matches it; the sequence matches when any of its items does. Empty keys match universally.
 */
function sequenceCondition(key: string, attr: Attribute, raw: NaturalizedValue, q: Statement, options: FindOptions): string | undefined {
  const item = queryItem(key, raw);
  if (item === undefined) return undefined;
  const parts: string[] = [];
  for (const nested of attr.nested ?? []) {
    const values = keyValues(item[nested]);
    if (values.length === 0) continue;
    if (values.length > 1) throw invalid(`${key} > ${nested} has ${values.length} values`);
    const inner: Attribute = { level: attr.level, kind: 'text', sql: q.dialect.jsonField(nested) };
    parts.push(condition(nested, inner, values[0], q, options)!);
  }
  if (parts.length === 0) return undefined;
  return `EXISTS (SELECT 1 FROM ${q.dialect.jsonItems(attr.sql)} WHERE ${parts.join(' AND ')})`;
}

function sequenceResponse(attr: Attribute, raw: unknown, requested: NaturalizedValue): NaturalizedValue {
  const item = queryItem('sequence', requested);
  const asked = Object.keys(item ?? {}).filter((k) => k !== '_vrMap');
  const keys = asked.length > 0 ? asked : (attr.nested ?? []);
  const stored = JSON.parse(String(raw ?? '[]')) as Record<string, string>[];
  return stored.map((s) => Object.fromEntries(keys.map((k) => [k, s[k] ?? ''])));
}

function responseValue(kind: Kind, raw: unknown): NaturalizedValue {
  if (raw === null || raw === undefined || raw === '') return kind === 'count' ? 0 : '';
  if (kind === 'count') return Number(raw);
  const s = String(raw);
  if (kind === 'IS') return s.includes('\\') ? s.split('\\').map(Number) : Number(s);
  if (kind === 'PN') {
    return s.split('\\').map((v) => {
      const [Alphabetic = '', Ideographic, Phonetic] = v.split('=');
      return { Alphabetic, ...(Ideographic ? { Ideographic } : {}), ...(Phonetic ? { Phonetic } : {}) };
    });
  }
  return s.includes('\\') ? s.split('\\') : s;
}

function emptyLike(value: NaturalizedValue): NaturalizedValue {
  const isSequence = Array.isArray(value) && value.some((v) => typeof v === 'object' && v !== null && !(v instanceof String) && !('Alphabetic' in v) && !('Ideographic' in v) && !('Phonetic' in v));
  return isSequence || (Array.isArray(value) && value.length === 0) ? [] : '';
}

function joins(upTo: QueryLevel): string {
  const parts = ['patient p'];
  if (levelRank[upTo] >= 1) parts.push('JOIN study st ON st.patient_fk = p.id');
  if (levelRank[upTo] >= 2) parts.push('JOIN series se ON se.study_fk = st.id');
  if (levelRank[upTo] >= 3) parts.push('JOIN instance i ON i.series_fk = se.id');
  return parts.join(' ');
}

/** Identifier elements that are not keys (PS3.4 C.4.1.1.3): the level, the character set, dcmjs's VR map. */
const notKeys: ReadonlySet<string> = new Set(['QueryRetrieveLevel', 'SpecificCharacterSet', '_vrMap']);

/**
 * The keys of `identifier` the index does not support for existence or matching (PS3.4
 * C.4.1.1.3.2): keys it does not keep (they come back zero-length), sequence item keys it does not
 * keep, and return-only keys (the related-counts) given a value to match. A non-empty list makes
 * each match a Pending response with status FF01 (PS3.4 C.4.1.1.4). Keys of a level below the
 * query level are not listed: a hierarchical query does not ask for them (PS3.4 C.4.1.3.1).
 */
export function unsupportedKeys(identifier: NaturalizedDataset): string[] {
  const out: string[] = [];
  for (const key of Object.keys(identifier)) {
    if (notKeys.has(key)) continue;
    const attr = attributes[key];
    if (attr === undefined) out.push(key);
    else if (attr.kind === 'count' && keyValues(identifier[key]).length > 0) out.push(key);
    else if (attr.kind === 'sequence') {
      const item = queryItem(key, identifier[key]);
      for (const nested of Object.keys(item ?? {})) if (!notKeys.has(nested) && !(attr.nested ?? []).includes(nested)) out.push(`${key}>${nested}`);
    }
  }
  return out;
}

/** How an index runs a statement built here: its dialect, and all rows of a statement. */
export interface SqlRunner {
  readonly dialect: SqlDialect;
  /** FindOptions.scanChunk when not given: bounded where the database runs in this process. */
  readonly defaultScanChunk: number;
  all(sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]>;
}

/**
 * C-FIND (PS3.4 C.4.1.3.1): the matches of `identifier` as naturalized data sets holding exactly
 * the requested keys plus QueryRetrieveLevel (and SpecificCharacterSet when requested). Unknown
 * keys and keys below the query level come back empty. Rows are read in pages, so stores can
 * go on while a slow peer consumes the matches. The same as `index.find(...)`.
 */
export function findMatches(
  index: InstanceIndex,
  model: InformationModel,
  identifier: NaturalizedDataset,
  options: FindOptions = {},
): AsyncIterable<NaturalizedDataset> {
  return index.find(model, identifier, options);
}

/** findMatches for an index implementation: the statements built here, run by `runner`. */
export async function* queryMatches(
  runner: SqlRunner,
  model: InformationModel,
  identifier: NaturalizedDataset,
  options: FindOptions = {},
): AsyncGenerator<NaturalizedDataset> {
  if (!(informationModels as readonly string[]).includes(model)) throw invalid(`unknown information model ${String(model)}`);
  const queryLevel = level(identifier);
  checkHierarchy(model, queryLevel, identifier);
  const requested = Object.keys(identifier).filter((k) => !notKeys.has(k));
  const q = new Statement(runner.dialect);
  const where: string[] = [];
  const selected: [string, Attribute][] = [];
  for (const key of requested) {
    const attr = attributes[key];
    if (attr === undefined || levelRank[attr.level] > levelRank[queryLevel]) continue;
    selected.push([key, attr]);
    const c = condition(key, attr, identifier[key], q, options);
    if (c !== undefined) where.push(c);
  }
  const table = levelTable[queryLevel];
  const columns = selected.map(([, a], n) => `${sqlOf(a, q.dialect)} AS c${n}`);
  columns.unshift(`${table}.id AS rowid_`, `${table}.charset AS charset_`, ...q.extraColumns);
  const from = q.bind(0);
  const to = q.bind(0);
  const limit = q.bind(0);
  const sql = `SELECT ${columns.join(', ')} FROM ${joins(queryLevel)} WHERE ${[...where, `${table}.id > ${from}`, `${table}.id <= ${to}`].join(' AND ')} ORDER BY ${table}.id LIMIT ${limit}`;
  const params = q.values;
  const pageSize = options.pageSize ?? 200;
  const scanChunk = options.scanChunk ?? runner.defaultScanChunk;
  // Rows stored after the query started are not looked at: the scan has an end.
  const [topRow] = await runner.all(`SELECT max(id) AS top FROM ${levelTableName[queryLevel]}`, []);
  const top = Number(topRow?.['top'] ?? 0);
  let last = 0;
  while (last < top) {
    // The level's rows in id ranges of at most scanChunk, at most pageSize rows at a time.
    // No statement stays open across a yield: the one connection stays free for stores.
    const end = Math.min(top, last + scanChunk);
    params[params.length - 3] = last;
    params[params.length - 2] = end;
    params[params.length - 1] = pageSize;
    const rows = await runner.all(sql, params);
    for (const row of rows) {
      if (!q.filters.every((f) => f.test(row[f.column]))) continue;
      const match: Record<string, NaturalizedValue> = { QueryRetrieveLevel: queryLevel };
      if ('SpecificCharacterSet' in identifier) match['SpecificCharacterSet'] = String(row['charset_'] ?? '');
      const byKey = new Map(
        selected.map(([k, a], n) => [k, a.kind === 'sequence' ? sequenceResponse(a, row[`c${n}`], identifier[k]) : responseValue(a.kind, row[`c${n}`])]),
      );
      // An unsupported key comes back zero-length (PS3.4 C.4.1.1.3.2): a sequence as a
      // sequence with no items, anything else as an empty value.
      for (const key of requested) match[key] = byKey.has(key) ? byKey.get(key) : emptyLike(identifier[key]);
      yield match;
    }
    last = rows.length < pageSize ? end : Number(rows[rows.length - 1]!['rowid_']);
    await yieldToEventLoop();
  }
}

/**
 * C-MOVE / C-GET (PS3.4 C.4.2, C.4.3): the stored copies under `keys` at `level`. The key of the
 * level itself is required and may be a list of UIDs; keys of higher levels, when given, must
 * match too. The same as `index.instancesFor(...)`.
 */
export function instancesFor(index: InstanceIndex, retrieveLevel: QueryLevel, keys: NaturalizedDataset): Promise<RetrieveInstance[]> {
  return index.instancesFor(retrieveLevel, keys);
}

/** instancesFor for an index implementation: the statement built here, run by `runner`. */
export async function retrieveInstances(runner: SqlRunner, retrieveLevel: QueryLevel, keys: NaturalizedDataset): Promise<RetrieveInstance[]> {
  if (!(queryLevels as readonly string[]).includes(retrieveLevel)) throw invalid(`unknown retrieve level ${String(retrieveLevel)}`);
  if (keyValues(keys[uniqueKey[retrieveLevel]]).length === 0) {
    throw invalid(`retrieve at ${retrieveLevel} level needs ${uniqueKey[retrieveLevel]} (PS3.4 C.4.2.2.1)`);
  }
  const q = new Statement(runner.dialect);
  const where: string[] = [];
  for (const lvl of queryLevels) {
    if (levelRank[lvl] > levelRank[retrieveLevel]) break;
    const key = uniqueKey[lvl];
    const values = keyValues(keys[key]);
    if (values.length === 0) continue;
    where.push(`${attributes[key]!.sql} IN (${values.map((v) => q.bind(v)).join(', ')})`);
  }
  const sql = `SELECT i.sop_uid AS "SOPInstanceUID", i.sop_class_uid AS "SOPClassUID", i.transfer_syntax AS "transferSyntaxUid",
    i.storage_key AS "key", i.size AS "size", st.study_uid AS "studyInstanceUid", p.patient_id AS "patientId",
    p.patient_name AS "patientName", st.accession_number AS "accessionNumber"
    FROM ${joins('IMAGE')} WHERE ${where.join(' AND ')} ORDER BY st.id, se.id, i.id`;
  const rows = await runner.all(sql, q.values);
  // PostgreSQL's bigint comes back as text.
  return rows.map((r) => ({ ...(r as unknown as RetrieveInstance), size: Number(r['size']) }));
}
