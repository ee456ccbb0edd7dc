/**
 * An instance transcoded on its way out of our serve (explicit → implicit VR little endian, when
 * the C-MOVE destination accepts implicit only: DCMTK 3.6.7's storescp +xi) keeps its Specific
 * Character Set and its text bytes: ISO_IR 100 stays ISO_IR 100 and "MÜLLER" stays Latin-1, a
 * sequence and an item of defined length come through, and only the element headers change.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DicomClient } from '../../src/ae/client.js';
import { StorageServer } from '../../src/services/scp/storage-server.js';
import { storageContextsFor } from '../../src/services/scu/store.js';
import { decodePart10Header, encodeFileMetaInformation } from '../../src/dataset/part10.js';
import { StorageSopClass, TransferSyntax } from '../../src/dictionary/uids.js';
import { hasDcmtk, run, startListening, type Daemon } from '../helpers/dcmtk.js';
import { encodeDataset, tempDir, type Element } from '../helpers/dicom-data.js';

const skip = ['movescu', 'storescp', 'dcmdump'].every((t) => hasDcmtk(t)) ? false : 'DCMTK tools missing';
const study = '1.2.826.0.1.3680043.9.7786.1';
const uid = `${study}.1.1`;
const latin1Name = Buffer.from('MÜLLER^HANS', 'latin1');

let dir: string;
let remove: () => Promise<void>;
let server: StorageServer;
let scp: Daemon;
let port: number;

/** An SQ value of defined-length items, in explicit or implicit VR (the helper's is explicit only). */
function sequence(items: readonly (readonly Element[])[], explicit: boolean): Buffer {
  return Buffer.concat(items.map((item) => {
    const body = encodeDataset(item, { explicit });
    const h = Buffer.alloc(8);
    h.writeUInt32LE(0xe000fffe, 0);
    h.writeUInt32LE(body.length, 4);
    return Buffer.concat([h, body]);
  }));
}

function elements(explicit: boolean): Buffer {
  return encodeDataset([
    [0x00080005, 'CS', 'ISO_IR 100'],
    [0x00080016, 'UI', StorageSopClass.SecondaryCaptureImageStorage],
    [0x00080018, 'UI', uid],
    [0x00080060, 'CS', 'OT'],
    [0x00081115, 'SQ', sequence([[[0x0020000e, 'UI', `${study}.9`], [0x00081160, 'IS', '1']]], explicit)],
    [0x00100010, 'PN', latin1Name],
    [0x00100020, 'LO', 'CHARSET'],
    [0x00104000, 'LT', Buffer.from('Größe 180 cm; Straße', 'latin1')],
    [0x0020000d, 'UI', study],
    [0x0020000e, 'UI', `${study}.1`],
    [0x00280010, 'US', Buffer.from([2, 0])],
    [0x7fe00010, 'OW', Buffer.alloc(8, 7)],
  ], { explicit });
}

before(async () => {
  if (skip !== false) return;
  ({ dir, remove } = await tempDir('charset-transcode'));
  await mkdir(join(dir, 'in'));
  const path = join(dir, 'in', 'latin1.dcm');
  await writeFile(path, Buffer.concat([encodeFileMetaInformation({ MediaStorageSOPClassUID: StorageSopClass.SecondaryCaptureImageStorage, MediaStorageSOPInstanceUID: uid, TransferSyntaxUID: TransferSyntax.ExplicitVrLittleEndian }), elements(true)]));
  await mkdir(join(dir, 'moved'));
  // +xi: implicit VR little endian only; +B: written as received.
  scp = await startListening('storescp', ['+xi', '+B', '-od', join(dir, 'moved'), '-aet', 'IMPLICITONLY']);
  server = await StorageServer.create({ aeTitle: 'OURPACS', storeRoot: join(dir, 'store'), fsync: 'none', destinations: { IMPLICITONLY: { host: '127.0.0.1', port: scp.port } } });
  ({ port } = await server.listen(0));
  const client = await DicomClient.associate({ host: '127.0.0.1', port, callingAeTitle: 'LOADER', calledAeTitle: 'OURPACS', presentationContexts: (await storageContextsFor([path])).filter((c) => c.transferSyntaxes.includes(TransferSyntax.ExplicitVrLittleEndian)) });
  const [r] = await client.store([path]);
  await client.release();
  assert.equal(r?.status, 0);
});
after(async () => {
  await server?.close({ timeout: 1000 });
  await scp?.stop();
  await remove?.();
});

test('C-MOVE to storescp accepting implicit VR only: the transcoded instance keeps ISO_IR 100 and its Latin-1 bytes', { skip }, async () => {
  const out = join(dir, 'moved');
  const r = await run('movescu', ['-S', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`, '-aec', 'OURPACS', '-aem', 'IMPLICITONLY', '127.0.0.1', String(port)]);
  assert.equal(r.code, 0, r.output);
  const files = await readdir(out);
  assert.equal(files.length, 1, scp.output());
  const bytes = await readFile(join(out, files[0]!));
  const header = decodePart10Header(bytes, { final: true });
  assert.equal(header.meta.TransferSyntaxUID, TransferSyntax.ImplicitVrLittleEndian);
  // Only the element headers changed: the data set is, byte for byte, the implicit VR encoding.
  assert.deepEqual(bytes.subarray(header.datasetOffset), elements(false));
  // DCMTK reads it as it was written: ISO_IR 100, the name converted from Latin-1 (+U8).
  const raw = (await run('dcmdump', [join(out, files[0]!)])).output;
  assert.match(raw, /\(0008,0005\) CS \[ISO_IR 100\]/);
  const utf8 = (await run('dcmdump', ['+U8', join(out, files[0]!)])).output;
  assert.match(utf8, /\(0010,0010\) PN \[MÜLLER\^HANS\]/);
});
