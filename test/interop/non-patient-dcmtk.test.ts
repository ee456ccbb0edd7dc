/**
 * DCMTK 3.6.7's storescu against a StorageServer, with files made by DCMTK's own dump2dcm and
 * dcmodify at test time:
 * - a Color Palette (a non-patient object, PS3.4 GG: no Patient, Study or Series) is refused at
 *   negotiation, abstract syntax not supported, with or without acceptUnknownSopClasses, so the
 *   SCU knows before it sends;
 * - patient objects without a Study or Series Instance UID, or with one that is not a UID, or
 *   whose SOP Instance UID is not a UID, each fail with the status PS3.4 B.2.3 gives (A900 when
 *   missing, C000 when not understood) naming the attribute in the Error Comment and the
 *   Offending Element; nothing of them is stored, and the association goes on.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { hasDcmtk, run } from '../helpers/dcmtk.js';
import { tempDir } from '../helpers/dicom-data.js';

const skip = ['storescu', 'dump2dcm', 'dcmodify'].every((t) => hasDcmtk(t)) ? false : 'DCMTK storescu, dump2dcm or dcmodify missing';

let dir: string;
let remove: () => Promise<void>;

const colorPalette = `(0002,0001) OB 00\\01
(0002,0002) UI =ColorPaletteStorage
(0002,0003) UI [2.25.101]
(0002,0010) UI =LittleEndianExplicit
(0008,0005) CS [ISO_IR 192]
(0008,0016) UI =ColorPaletteStorage
(0008,0018) UI [2.25.101]
(0028,1101) US 256\\0\\8
(0028,1102) US 256\\0\\8
(0028,1103) US 256\\0\\8
(0028,1201) OW 0000
(0028,1202) OW 0000
(0028,1203) OW 0000
(0070,0080) CS [HOTIRON]
`;

/** A Secondary Capture instance, complete: the files below are it, each broken one way. */
const secondaryCapture = (sop: string): string => `(0002,0001) OB 00\\01
(0002,0002) UI =SecondaryCaptureImageStorage
(0002,0003) UI [${sop}]
(0002,0010) UI =LittleEndianExplicit
(0008,0016) UI =SecondaryCaptureImageStorage
(0008,0018) UI [${sop}]
(0008,0060) CS [OT]
(0010,0010) PN [Doe^Jane]
(0010,0020) LO [NP16]
(0020,000d) UI [2.25.3333]
(0020,000e) UI [2.25.4444]
`;

async function dump2dcm(name: string, text: string): Promise<string> {
  const dump = join(dir, `${name}.dump`);
  const path = join(dir, `${name}.dcm`);
  await writeFile(dump, text);
  const r = await run('dump2dcm', ['-q', dump, path]);
  assert.equal(r.code, 0, r.output);
  return path;
}

/** A copy of `from` changed by dcmodify (`-nb`: no backup file). */
async function modified(from: string, name: string, args: readonly string[]): Promise<string> {
  const path = join(dir, `${name}.dcm`);
  await copyFile(from, path);
  const r = await run('dcmodify', ['-nb', ...args, path]);
  assert.equal(r.code, 0, r.output);
  return path;
}

before(async () => {
  if (skip !== false) return;
  ({ dir, remove } = await tempDir('non-patient'));
});
after(async () => {
  await remove?.();
});

async function withServer(name: string, acceptUnknownSopClasses: boolean, fn: (server: StorageServer, port: number) => Promise<void>): Promise<void> {
  const server = await StorageServer.create({ aeTitle: 'OURSCP', storeRoot: join(dir, name), fsync: 'none', acceptUnknownSopClasses });
  const { port } = await server.listen(0);
  try {
    await fn(server, port);
  } finally {
    await server.close({ timeout: 1000 });
  }
}

/** storescu with the debug log (the responses' status and status detail), proposing only the files' classes (-R), going on after a failure (-nh). */
const storescu = (port: number, files: readonly string[]): ReturnType<typeof run> => run('storescu', ['-d', '-R', '-nh', '-aec', 'OURSCP', '127.0.0.1', String(port), ...files], 60_000);

/** Every file below the store root, the index database aside. */
async function storedFiles(root: string): Promise<string[]> {
  const all = await readdir(root, { recursive: true, withFileTypes: true });
  return all.filter((e) => e.isFile() && !e.name.startsWith('.index.sqlite')).map((e) => e.name).sort();
}

test('a Color Palette is refused at negotiation (abstract syntax not supported), also with acceptUnknownSopClasses', { skip }, async () => {
  const palette = await dump2dcm('palette', colorPalette);
  for (const acceptUnknown of [false, true]) {
    await withServer(`palette-${acceptUnknown}`, acceptUnknown, async (server, port) => {
      const r = await storescu(port, [palette]);
      assert.match(r.output, /Context ID:\s+1 \(Abstract Syntax Not Supported\)/, r.output);
      assert.match(r.output, /No Acceptable Presentation Contexts/, r.output);
      assert.doesNotMatch(r.output, /C-STORE RSP/);
      assert.equal(await server.storedInstance('2.25.101'), undefined);
      assert.equal((await server.index.statistics()).instances, 0);
    });
  }
});

test('patient objects missing or with malformed identifying UIDs fail with A900 / C000 naming the attribute; the association goes on', { skip }, async () => {
  const good = await dump2dcm('good', secondaryCapture('2.25.5001'));
  const base = await dump2dcm('base', secondaryCapture('2.25.5002'));
  const after = await dump2dcm('after', secondaryCapture('2.25.5003'));
  // [file, status, Offending Element, Error Comment]
  const cases: [string, number, string, string][] = [
    [await modified(base, 'no-study', ['-ea', '(0020,000d)']), 0xa900, '(0020,000d)', 'StudyInstanceUID (0020,000D) is missing'],
    [await modified(base, 'empty-study', ['-m', '(0020,000d)=']), 0xa900, '(0020,000d)', 'StudyInstanceUID (0020,000D) is missing'],
    [await modified(base, 'no-series', ['-ea', '(0020,000e)']), 0xa900, '(0020,000e)', 'SeriesInstanceUID (0020,000E) is missing'],
    [await modified(base, 'bad-study', ['-m', '(0020,000d)=1.2.abc']), 0xc000, '(0020,000d)', 'StudyInstanceUID (0020,000D) is not a valid UID'],
    [await modified(base, 'long-series', ['-m', `(0020,000e)=1.2.${'1'.repeat(70)}`]), 0xc000, '(0020,000e)', 'SeriesInstanceUID (0020,000E) is not a valid UID'],
    // storescu takes the command's Affected SOP Instance UID from the data set.
    [await modified(base, 'bad-sop', ['-m', '(0008,0018)=1.2.abc']), 0xc000, '(0000,1000)', 'Affected SOP Instance UID (0000,1000) is not a valid UID'],
  ];
  await withServer('patient', false, async (server, port) => {
    const r = await storescu(port, [good, ...cases.map(([f]) => f), after]);
    const statuses = [...r.output.matchAll(/DIMSE Status\s+: 0x([0-9a-f]{4})/g)].map((m) => parseInt(m[1]!, 16));
    assert.deepEqual(statuses, [0, ...cases.map(([, s]) => s), 0], r.output);
    const offending = [...r.output.matchAll(/\(0000,0901\) AT (\([0-9a-f]{4},[0-9a-f]{4}\))/g)].map((m) => m[1]);
    assert.deepEqual(offending, cases.map(([, , o]) => o), r.output);
    const comments = [...r.output.matchAll(/\(0000,0902\) LO \[([^\]]*)\]/g)].map((m) => m[1]);
    assert.deepEqual(comments, cases.map(([, , , c]) => c), r.output);
    // One association: accepted once, released at the end, never aborted.
    assert.equal([...r.output.matchAll(/Association Accepted/g)].length, 1, r.output);
    assert.match(r.output, /Releasing Association/);
    assert.doesNotMatch(r.output, /Abort/i);
    // Nothing of the failed instances is left: two files, two rows.
    assert.deepEqual(await storedFiles(join(dir, 'patient')), ['2.25.5001.dcm', '2.25.5003.dcm']);
    const stats = await server.index.statistics();
    assert.deepEqual([stats.instances, stats.series, stats.studies, stats.pending], [2, 1, 1, 0]);
  });
});
