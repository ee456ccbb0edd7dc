/**
 * The files `store` sends: files, folders (recursively) and glob patterns (`*`, `?`, `**`),
 * expanded here because Node 20 has no fs.glob and shells on Windows do not expand them.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { fileError } from './errors.js';

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
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

/** Every regular file named by the arguments, in a stable order, without duplicates. */
export function expandInputs(inputs: readonly string[], cwd: string): string[] {
  const out: string[] = [];
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
      out.push(...matched);
      continue;
    }
    const p = resolve(cwd, input);
    let st;
    try { st = statSync(p); } catch (e) { throw fileError(`${input}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : String(e)}`, e); }
    if (st.isDirectory()) walk(p, out); else out.push(p);
  }
  return [...new Set(out)];
}
