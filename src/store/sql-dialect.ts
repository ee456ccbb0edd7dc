/**
 * What the C-FIND query builder (query.ts) needs to know about a database's SQL: the one place
 * where SQLite and PostgreSQL differ for queries. The write side of each database (upserts,
 * locks, migrations) lives in its own module (sqlite-index.ts, postgres-index.ts).
 */

export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres';
  /** The placeholder of the `n`th parameter (1-based). */
  placeholder(n: number): string;
  /** A stored TM value normalized for comparison (text-match.ts normalizeTime with '0'). */
  time(expr: string): string;
  /** A stored IS value as an integer, leniently (leading digits; 0 when none), as SQLite's CAST. */
  integer(expr: string): string;
  /**
   * Wildcard matching (PS3.4 C.2.2.2.4): `pattern` holds `*` and `?`, one `?` one character.
   * Returns the condition; the value to bind is given to `bind`, which returns its placeholder.
   */
  wildcard(expr: string, pattern: string, bind: (value: unknown) => string): string;
  /**
   * Person Name matching in SQL (text-match.ts personNameMatches), or undefined when the
   * database cannot run it: the builder then filters the fetched rows in JavaScript.
   */
  personName?(expr: string, key: string, caseInsensitive: boolean, bind: (value: unknown) => string): string;
  /** A FROM item over the items of a JSON array column, aliased `j`. */
  jsonItems(expr: string): string;
  /** The text of key `key` of the current `j` item. */
  jsonField(key: string): string;
  /** The distinct non-empty values of `expr` over `from` (a FROM … WHERE … tail), sorted, joined by `\`. */
  distinctJoined(expr: string, from: string): string;
}

export const sqliteDialect: SqlDialect = {
  name: 'sqlite',
  placeholder: () => '?',
  time: (expr) => `dicom_tm(${expr})`,
  integer: (expr) => `CAST(${expr} AS INTEGER)`,
  // GLOB works on characters of the stored Unicode text: `?` is one character. Its only
  // specials besides * and ? are [ ]: '[' becomes the class '[[]'.
  wildcard: (expr, pattern, bind) => `${expr} GLOB ${bind(pattern.replace(/\[/g, '[[]'))}`,
  // Component groups and case folding in JS (text-match.ts): SQLite's lower() is ASCII-only.
  personName: (expr, key, ci, bind) => `dicom_pn_match(${expr}, ${bind(key)}, ${bind(ci ? 1 : 0)})`,
  jsonItems: (expr) => `json_each(${expr}) j`,
  jsonField: (key) => `json_extract(j.value, '$.${key}')`,
  distinctJoined: (expr, from) => `(SELECT group_concat(m, '\\') FROM (SELECT DISTINCT ${expr} AS m ${from} ORDER BY 1))`,
};

export const postgresDialect: SqlDialect = {
  name: 'postgres',
  placeholder: (n) => `$${n}`,
  time: (expr) => `dicom_tm(${expr})`,
  integer: (expr) => `dicom_int(${expr})`,
  // LIKE with its own specials escaped (backslash, the default escape); `_` is one character
  // of a UTF8 database.
  wildcard: (expr, pattern, bind) =>
    `${expr} LIKE ${bind(pattern.replace(/[\\%_]/g, '\\$&').replace(/\*/g, '%').replace(/\?/g, '_'))}`,
  jsonItems: (expr) => `jsonb_array_elements(${expr}::jsonb) j(value)`,
  jsonField: (key) => `(j.value ->> '${key}')`,
  distinctJoined: (expr, from) => `(SELECT string_agg(DISTINCT ${expr}, '\\' ORDER BY ${expr}) ${from})`,
};
