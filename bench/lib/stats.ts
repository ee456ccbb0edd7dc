/**
 * Statistics and formatting for the bench table. Pure functions, unit-tested in
 * test/bench/stats.test.ts, so a wrong median or a misleading ratio is caught without running a
 * benchmark.
 */

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const upper = sorted[mid]!;
  return sorted.length % 2 === 1 ? upper : (sorted[mid - 1]! + upper) / 2;
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new RangeError('spread of an empty list');
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** Three significant digits, without exponent notation for the magnitudes a bench produces. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

/** "0.171 (0.165–0.180)": median with the min–max spread of the runs (single run: no spread). */
export function formatSpread(s: Spread): string {
  const m = formatNumber(s.median);
  if (s.min === s.max) return m;
  return `${m} (${formatNumber(s.min)}–${formatNumber(s.max)})`;
}

/**
 * Speed ratio of ours against another peer for the same workload, from the median times:
 * other / ours, so that "2.00×" means ours is twice as fast and "0.50×" half as fast.
 * Missing or unusable inputs give "n/a" rather than a number that looks real.
 */
export function formatSpeedRatio(oursSeconds: number | undefined, otherSeconds: number | undefined): string {
  if (oursSeconds === undefined || otherSeconds === undefined) return 'n/a';
  if (!(oursSeconds > 0) || !(otherSeconds > 0)) return 'n/a';
  return `${(otherSeconds / oursSeconds).toFixed(2)}×`;
}

/** Megabytes (10^6 bytes, as MB/s is usually quoted) per second. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : Number.NaN;
}

/** A Markdown table; also readable as plain text in a terminal. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
