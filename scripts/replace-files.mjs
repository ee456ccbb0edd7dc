/**
 * Puts a build's files into their directory so that a program running from it meanwhile (a
 * `dicom-tls serve`, a command started during the build) never finds a file missing or half
 * written: a file whose contents did not change is left as it is; a changed or new one is written
 * beside its place and renamed over it (a rename replaces a file atomically); the files named
 * `last` (the entry) go in after all others, so that a new entry finds its new chunks; files the
 * build no longer makes are removed at the end. A module of its own so that a test can check it
 * without building (scripts/bundle-cli.mjs uses it).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * @param {string} dir the output directory
 * @param {Array<{ path: string, contents: string | Uint8Array, mode?: number }>} files paths relative to dir
 * @param {readonly string[]} last relative paths written after every other file
 * @returns {{ written: string[], removed: string[] }}
 */
export function replaceFiles(dir, files, last = []) {
  const ordered = [...files.filter((f) => !last.includes(f.path)), ...last.map((p) => files.find((f) => f.path === p)).filter((f) => f !== undefined)];
  const written = [];
  for (const f of ordered) {
    const target = join(dir, f.path);
    const contents = typeof f.contents === 'string' ? Buffer.from(f.contents) : Buffer.from(f.contents.buffer, f.contents.byteOffset, f.contents.byteLength);
    if (existsSync(target) && readFileSync(target).equals(contents)) {
      if (f.mode !== undefined) chmodSync(target, f.mode);
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    const temp = `${target}.${process.pid}.tmp`;
    writeFileSync(temp, contents, f.mode === undefined ? {} : { mode: f.mode });
    if (f.mode !== undefined) chmodSync(temp, f.mode);
    renameSync(temp, target);
    written.push(f.path);
  }
  const keep = new Set(files.map((f) => f.path));
  const removed = [];
  const sweep = (sub) => {
    for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? e.name : join(sub, e.name);
      if (e.isDirectory()) {
        sweep(rel);
        if (readdirSync(join(dir, rel)).length === 0) rmSync(join(dir, rel), { recursive: true });
      } else if (!keep.has(rel)) {
        rmSync(join(dir, rel), { force: true });
        removed.push(rel);
      }
    }
  };
  if (existsSync(dir)) sweep('');
  return { written, removed };
}
