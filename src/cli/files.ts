/**
 * The files `store` sends: files, folders (recursively) and glob patterns (`*`, `?`, `**`),
 * expanded here because Node 20 has no fs.glob and shells on Windows do not expand them.
 */
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { fileError } from './errors.js';
import { codeUnitOrder } from '../internal/code-unit-order.js';

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => codeUnitOrder(a.name, b.name))) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) walk(p, out);
    else if (entry.isFile()) out.push(p);
  }
}

/** A glob as a regular expression over '/'-separated paths; `**` spans directories. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') { re += '.*'; i++; if (pattern[i + 1] === '/') i++; }
    else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** PS3.10 7.1: a 128-byte preamble, then "DICM". */
export function isPart10(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(132);
    return readSync(fd, b, 0, 132, 0) === 132 && b.toString('latin1', 128, 132) === 'DICM';
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Every file to send, in a stable order, without duplicates. Files named one by one are always
 * tried (a non-DICOM one is reported as failed); files found in folders or by a glob are sent only
 * when they are Part 10 files, the others counted as skipped (README, DICOMDIR-less dumps, …).
 */
export function expandInputs(inputs: readonly string[], cwd: string): { files: string[]; skipped: string[] } {
  const found = collect(inputs, cwd);
  const files: string[] = [];
  const skipped: string[] = [];
  for (const f of found) (f.explicit || isPart10(f.path) ? files : skipped).push(f.path);
  return { files: [...new Set(files)], skipped };
}

function collect(inputs: readonly string[], cwd: string): Array<{ path: string; explicit: boolean }> {
  const out: Array<{ path: string; explicit: boolean }> = [];
  for (const input of inputs) {
    if (/[*?]/.test(input)) {
      const abs = resolve(cwd, input).split(sep).join('/');
      const firstGlob = abs.search(/[*?]/);
      const base = abs.slice(0, abs.lastIndexOf('/', firstGlob) + 1) || '/';
      const re = globToRegExp(abs);
      const all: string[] = [];
      try { walk(base, all); } catch (e) { throw fileError(`cannot read ${base}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e); }
      const matched = all.filter((f) => re.test(f.split(sep).join('/')));
      if (matched.length === 0) throw fileError(`no file matches ${input}`);
      out.push(...matched.map((path) => ({ path, explicit: false })));
      continue;
    }
    const p = resolve(cwd, input);
    let st;
    try { st = statSync(p); } catch (e) { throw fileError(`${input}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : String(e)}`, e); }
    if (st.isDirectory()) {
      const all: string[] = [];
      walk(p, all);
      out.push(...all.map((path) => ({ path, explicit: false })));
    } else out.push({ path: p, explicit: true });
  }
  return out;
}
