#!/usr/bin/env node
/**
 * The error codes of the project, read from the source: every `DICOM_ERR_…` / `DICOM_TLS_ERR_…`
 * string literal under src/, with the class that carries it and its layer.
 *
 *   node scripts/error-codes.mjs                      print a Markdown table (code, class, layer, file)
 *   node scripts/error-codes.mjs --check docs/errors.md
 *       exit 1 when a code or a DicomError subclass of src/ is missing from that page, or the page
 *       names a code src/ no longer has (test/docs/errors-doc.test.ts runs this)
 *   --src DIR                                         scan DIR instead of ./src
 *
 * Plain JavaScript on purpose: it runs without a build.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const CODE = /['"`](DICOM_(?:TLS_)?ERR_[A-Z0-9_]+)['"`]/g;
const CLASS = /export class (\w+) extends (\w+)/g;

/** Layer names by folder, most specific first. */
const LAYERS = [
  ['transport/tls', 'TLS (transport/tls)'],
  ['transport', 'transport'],
  ['ul/fsm', 'upper layer, state machine (PS3.8 9.2)'],
  ['ul', 'upper layer (PS3.8)'],
  ['acse', 'association negotiation (PS3.7 Annex D, PS3.8 7.1)'],
  ['dimse', 'DIMSE (PS3.7)'],
  ['dataset', 'data sets (PS3.5, PS3.10)'],
  ['store', 'store'],
  ['services', 'services'],
  ['ae', 'DicomClient / DicomServer'],
  ['cli', 'CLI'],
];

function layerOf(file) {
  const path = file.split(sep).join('/');
  for (const [folder, name] of LAYERS) if (path.startsWith(`${folder}/`)) return name;
  return 'core (errors.ts)';
}

function* tsFiles(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* tsFiles(path);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) yield path;
  }
}

/**
 * The class that owns a code: the exported class whose body contains the literal; else (a table
 * of codes such as `storeErrorCodes`) the file's one error class that takes `code` as a parameter;
 * a code passed straight to `new DicomError('…')` belongs to the base class.
 */
function ownerOf(text, index, classes) {
  if (/new DicomError\(\s*$/.test(text.slice(Math.max(0, index - 40), index))) return 'DicomError';
  let owner;
  for (const c of classes) if (c.start <= index && index < c.end) owner = c.name;
  if (owner !== undefined) return owner;
  const generic = classes.find((c) => /constructor\(\s*code\b/.test(text.slice(c.start, c.end)));
  return generic?.name ?? 'DicomError';
}

/** Exported classes of a file with the span of their bodies (up to the next top-level export). */
function classesOf(text) {
  const found = [...text.matchAll(CLASS)].map((m) => ({ name: m[1], base: m[2], start: m.index }));
  const tops = [...text.matchAll(/^export /gm)].map((m) => m.index);
  return found.map((c) => ({ ...c, end: tops.find((t) => t > c.start) ?? text.length }));
}

export function scan(srcDir) {
  const codes = new Map();
  const errorClasses = new Map();
  const files = [...tsFiles(srcDir)];
  const texts = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
  // Subclasses of DicomError, also indirect ones.
  const all = files.flatMap((f) => classesOf(texts.get(f)).map((c) => ({ ...c, file: f })));
  const isError = (name, seen = new Set()) => {
    if (name === 'DicomError') return true;
    if (seen.has(name)) return false;
    seen.add(name);
    const c = all.find((x) => x.name === name);
    return c !== undefined && isError(c.base, seen);
  };
  for (const c of all) if (c.name !== 'DicomError' && isError(c.base)) errorClasses.set(c.name, relative(srcDir, c.file));
  for (const file of files) {
    const text = texts.get(file);
    const classes = classesOf(text);
    for (const m of text.matchAll(CODE)) {
      const code = m[1];
      if (codes.has(code)) continue;
      const rel = relative(srcDir, file);
      codes.set(code, { code, owner: ownerOf(text, m.index, classes), layer: layerOf(rel), file: rel });
    }
  }
  return { codes: [...codes.values()].sort((a, b) => a.code.localeCompare(b.code)), errorClasses };
}

/** What a documentation page lacks (or names in excess) compared with the source. */
export function check(srcDir, page) {
  const { codes, errorClasses } = scan(srcDir);
  const text = readFileSync(page, 'utf8');
  const documented = new Set([...text.matchAll(/`(DICOM_(?:TLS_)?ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]));
  const known = new Set(codes.map((c) => c.code));
  return {
    missingCodes: codes.filter((c) => !documented.has(c.code)).map((c) => `${c.code} (${c.owner}, src/${c.file})`),
    missingClasses: [...errorClasses].filter(([name]) => !text.includes(`\`${name}\``)).map(([name, file]) => `${name} (src/${file})`),
    staleCodes: [...documented].filter((c) => !known.has(c)),
  };
}

function main(argv) {
  const srcIndex = argv.indexOf('--src');
  const srcDir = srcIndex >= 0 ? argv[srcIndex + 1] : 'src';
  const checkIndex = argv.indexOf('--check');
  if (checkIndex >= 0) {
    const page = argv[checkIndex + 1];
    const r = check(srcDir, page);
    const problems = [
      ...r.missingCodes.map((c) => `code missing from ${page}: ${c}`),
      ...r.missingClasses.map((c) => `error class missing from ${page}: ${c}`),
      ...r.staleCodes.map((c) => `${page} names ${c}, which no file under ${srcDir}/ defines`),
    ];
    for (const p of problems) console.log(p);
    if (problems.length === 0) console.log(`${page}: every error code and class of ${srcDir}/ is documented`);
    return problems.length === 0 ? 0 : 1;
  }
  const { codes } = scan(srcDir);
  console.log('| code | class | layer | defined in |');
  console.log('|---|---|---|---|');
  for (const c of codes) console.log(`| \`${c.code}\` | \`${c.owner}\` | ${c.layer} | \`src/${c.file}\` |`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
