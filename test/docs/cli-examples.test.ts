/**
 * Every example command that talks to localhost, as printed by `--help`, `help dcmtk`, serve's
 * start-up text, the README and docs/, runs as printed against a default `dicom-tls serve` in a
 * fresh directory: through a shell, with `dicom-tls` on the PATH as the README's `npm install -g .`
 * puts it (into a prefix of the test's own) and
 * `npx dicom-tls` run by npx for the project (as after the README's `npm ci`), the only change
 * being serve's port (2762 here is a free port). Examples naming other hosts (pacs.example.org …) are the reader's to adapt and
 * are only checked to name a command that exists.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, tempDir } from '../helpers/cli.js';
import { hasDcmtk } from '../helpers/dcmtk.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const tmp = tempDir('cli-examples-');
const bin = join(tmp.dir, 'global', 'bin');
let server: ChildProcessWithoutNullStreams;
let log = '';
let port = 0;

function help(args: string[]): string {
  return execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

/** The built entry points, by identity (a rebuild replaces them): a test must never rebuild dist/. */
function builtFiles(): Record<string, string> {
  const files = ['dist/cli/dicom-tls.js', 'dist/cli/solo/get.js', 'dist/src/index.js'];
  return Object.fromEntries(files.map((f) => {
    const s = statSync(join(root, f));
    return [f, `${s.ino} ${s.mtimeMs}`];
  }));
}

/** Command lines (continuations joined) that start with one of `starts`, from a text. */
export function commandLines(text: string, starts: readonly string[]): string[] {
  const joined = text.replace(/\\\n\s*/g, '');
  return joined.split('\n').map((l) => l.trim()).filter((l) => starts.some((s) => l.startsWith(`${s} `)));
}

function printedExamples(): Array<{ where: string; line: string }> {
  const starts = ['dicom-tls', 'npx dicom-tls', 'echoscu'];
  const out: Array<{ where: string; line: string }> = [];
  const texts: Array<[string, string]> = [['dicom-tls --help', help(['--help'])], ['dicom-tls help dcmtk', help(['help', 'dcmtk'])]];
  const listed = /^Commands:\n([\s\S]*?)\n\n/m.exec(help(['--help']))![1]!.split('\n').map((l) => l.trim().split(/\s+/)[0]!);
  for (const c of listed) texts.push([`dicom-tls ${c} --help`, help([c, '--help'])]);
  texts.push(['README.md', readFileSync(join(root, 'README.md'), 'utf8')]);
  for (const f of readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.md') && n !== 'cli.md')) {
    // Only fenced code: prose may quote half a command.
    const md = readFileSync(join(root, 'docs', f), 'utf8');
    texts.push([`docs/${f}`, [...md.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n')]);
  }
  for (const [where, text] of texts) {
    for (const line of commandLines(text, starts)) {
      // "dicom-tls pki init DIR [options]" in a Usage block is syntax, not an example.
      if (/^(npx )?dicom-tls \d/.test(line) || /\[options\]|\bHOST:PORT\b|\b(FILE|DIR|NAME|AE)\b/.test(line)) continue;
      out.push({ where, line });
    }
  }
  return out;
}

function sh(line: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', line], { cwd: tmp.dir, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d; });
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('close', (code) => { clearTimeout(guard); resolve({ code, output }); });
  });
}

before(async () => {
  // The README's install, into a prefix of our own: a link to this folder, bin/dicom-tls on the PATH.
  execFileSync('npm', ['install', '-g', '--prefix', join(tmp.dir, 'global'), root, '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { stdio: 'pipe' });
  server = spawn(process.execPath, [CLI, 'serve', '--port', '0'], { cwd: tmp.dir, stdio: ['pipe', 'pipe', 'pipe'] });
  server.stdout.setEncoding('utf8').on('data', (d: string) => { log += d; });
  server.stderr.setEncoding('utf8').on('data', (d: string) => { log += d; });
  await new Promise<void>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`serve did not start:\n${log}`)), 30_000);
    const check = (): void => {
      const m = /listening for DICOM over TLS on \S+:(\d+)[\s\S]*Stop with/.exec(log);
      if (m !== null) { clearTimeout(guard); port = Number(m[1]); resolve(); }
    };
    server.stdout.on('data', check);
  });
  // The inputs the store examples name: study folders.
  for (const [i, d] of ['study1', 'scans'].entries()) {
    // One instance each, distinct: serve refuses a second copy of an instance (0111).
    const dump = ['(0008,0016) UI =SecondaryCaptureImageStorage', `(0008,0018) UI [1.2.826.0.1.3680043.2.1125.77.1.${i}]`, '(0008,0060) CS [OT]',
      '(0010,0010) PN [DOE^EXAMPLE]', '(0010,0020) LO [EX-1]', '(0020,000d) UI [1.2.826.0.1.3680043.2.1125.77]', '(0020,000e) UI [1.2.826.0.1.3680043.2.1125.77.2]', ''].join('\n');
    writeFileSync(join(tmp.dir, `${d}.dump`), dump);
    mkdirSync(join(tmp.dir, d));
    execFileSync('dump2dcm', ['+te', join(tmp.dir, `${d}.dump`), join(tmp.dir, d, 'ex.dcm')]);
  }
});

after(async () => {
  if (server.exitCode === null) { server.kill('SIGKILL'); await new Promise((r) => server.once('exit', r)); }
  tmp.cleanup();
});

test('every printed localhost example runs as printed against a default serve', async () => {
  const examples = printedExamples();
  const local = examples.filter((e) => /\blocalhost\b/.test(e.line) && !/^(npx )?dicom-tls serve\b/.test(e.line));
  // The help, the DCMTK page and the README each show at least one runnable example.
  for (const where of ['dicom-tls --help', 'dicom-tls help dcmtk', 'dicom-tls echo --help', 'dicom-tls store --help', 'dicom-tls find --help', 'dicom-tls get --help', 'dicom-tls diagnose --help', 'README.md']) {
    assert.ok(local.some((e) => e.where === where), `no localhost example in ${where}`);
  }
  const startup = commandLines(log, ['dicom-tls', 'echoscu']).map((line) => ({ where: 'serve start-up', line }));
  assert.equal(startup.length, 2, log);
  const failures: string[] = [];
  const built = builtFiles();
  for (const e of [...local, ...startup]) {
    if (e.line.startsWith('echoscu') && !hasDcmtk('echoscu')) continue;
    // `npx dicom-tls` as in the project's directory (README: npm ci), run from serve's directory.
    const ported = e.line.replace(/(localhost[: ])2762\b/g, `$1${port}`);
    if (e.where !== 'serve start-up') assert.notEqual(ported, e.line, `the example names no port 2762: ${e.line}`);
    // With an npx cache of its own, empty as on a machine that never ran npx here: npx then links
    // the project into that cache, which runs its `prepare` script (and that must not rebuild
    // the dist/ every other test runs from).
    const line = ported.replace(/^npx dicom-tls /, `npx --prefix ${root} --cache ${join(tmp.dir, 'npm-cache')} --offline --no-install dicom-tls `);
    const r = await sh(line);
    if (r.code !== 0) failures.push(`${e.where}: ${e.line}\n  exit ${r.code}: ${r.output.trim()}`);
  }
  assert.deepEqual(failures, []);
  assert.deepEqual(builtFiles(), built, 'running the examples (npx among them) rebuilt dist/');
});

test('every printed example names a command that exists', () => {
  // The commands the program lists in its own help.
  const listed = /^Commands:\n([\s\S]*?)\n\n/m.exec(help(['--help']))![1]!.split('\n').map((l) => l.trim().split(/\s+/)[0]!);
  const commands = new Set([...listed, 'help', '--help', '--version']);
  for (const e of printedExamples()) {
    if (e.line.startsWith('echoscu')) continue;
    const word = e.line.replace(/^npx /, '').split(/\s+/)[1]!;
    assert.ok(commands.has(word), `${e.where}: ${e.line}`);
  }
});
