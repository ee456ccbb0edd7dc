/**
 * Instances for the services tests: small Part 10 files in explicit or implicit VR, a large
 * multi-frame one written to disk in chunks (never in memory), and the hash of a file's data set.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { encodeFileMetaInformation, readPart10Header } from '../../src/dataset/part10.js';
import { ctImageStorage, elementHeader, encodeDataset, specElements, type Element, type InstanceSpec } from './dicom-data.js';

export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const IMPLICIT_LE = '1.2.840.10008.1.2';

export function spec(n: number, over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    PatientName: `TEST^P${n % 3}`,
    PatientID: `PID${n % 3}`,
    StudyInstanceUID: `1.2.826.0.1.3680043.9.7777.${n % 3}`,
    StudyDate: `2020010${(n % 3) + 1}`,
    SeriesInstanceUID: `1.2.826.0.1.3680043.9.7777.${n % 3}.1`,
    Modality: 'CT',
    SOPInstanceUID: `1.2.826.0.1.3680043.9.7777.${n % 3}.1.${n}`,
    SOPClassUID: ctImageStorage,
    InstanceNumber: String(n),
    ...over,
  };
}

/** A small Part 10 file; the data set has `pixels` bytes of pixel data with a pattern that depends on `n`. */
export async function writeInstance(dir: string, s: InstanceSpec, options: { ts?: string; pixels?: number } = {}): Promise<{ path: string; hash: string }> {
  const ts = options.ts ?? EXPLICIT_LE;
  const pixels = new Uint8Array(options.pixels ?? 4096).map((_, i) => (i * 7 + s.SOPInstanceUID.length) & 0xff);
  const elements: Element[] = [...specElements(s), [0x7fe00010, 'OW', pixels]];
  const dataset = encodeDataset(elements, { explicit: ts !== IMPLICIT_LE });
  const meta = encodeFileMetaInformation({ MediaStorageSOPClassUID: s.SOPClassUID ?? ctImageStorage, MediaStorageSOPInstanceUID: s.SOPInstanceUID, TransferSyntaxUID: ts });
  const path = join(dir, `${s.SOPInstanceUID}.dcm`);
  await writeFile(path, Buffer.concat([meta, dataset]));
  return { path, hash: createHash('sha256').update(dataset).digest('hex') };
}

/**
 * A multi-frame instance of about `bytes` bytes of pixel data (frames of 512×512×16 bit), written
 * to disk in 1 MiB chunks while hashing; explicit VR little endian.
 */
export async function writeBigInstance(dir: string, s: InstanceSpec, bytes: number): Promise<{ path: string; hash: string; size: number }> {
  const frame = 512 * 512 * 2;
  const frames = Math.ceil(bytes / frame);
  const pixelLength = frames * frame;
  const head = Buffer.concat([
    encodeDataset([
      ...specElements(s),
      [0x00280002, 'US', Buffer.from([1, 0])],
      [0x00280004, 'CS', 'MONOCHROME2'],
      [0x00280008, 'IS', String(frames)],
      [0x00280010, 'US', Buffer.from([0, 2])],
      [0x00280011, 'US', Buffer.from([0, 2])],
      [0x00280100, 'US', Buffer.from([16, 0])],
      [0x00280101, 'US', Buffer.from([16, 0])],
      [0x00280102, 'US', Buffer.from([15, 0])],
      [0x00280103, 'US', Buffer.from([0, 0])],
    ]),
    elementHeader(0x7fe00010, 'OW', pixelLength),
  ]);
  const meta = encodeFileMetaInformation({ MediaStorageSOPClassUID: s.SOPClassUID ?? ctImageStorage, MediaStorageSOPInstanceUID: s.SOPInstanceUID, TransferSyntaxUID: EXPLICIT_LE });
  const path = join(dir, `${s.SOPInstanceUID}.dcm`);
  const out = createWriteStream(path);
  const hash = createHash('sha256').update(head);
  out.write(meta);
  out.write(head);
  const chunk = 1 << 20;
  for (let written = 0, n = 0; written < pixelLength; n++) {
    const c = Buffer.alloc(Math.min(chunk, pixelLength - written), (n * 31) & 0xff);
    c.writeUInt32LE(n, 0);
    hash.update(c);
    written += c.length;
    if (!out.write(c)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return { path, hash: hash.digest('hex'), size: head.length + pixelLength };
}

/** SHA-256 of the data set of a Part 10 file (after the meta header). */
export async function datasetHash(path: string): Promise<string> {
  const { datasetOffset } = await readPart10Header(path);
  const hash = createHash('sha256');
  for await (const c of createReadStream(path, { start: datasetOffset, highWaterMark: 1 << 20 })) hash.update(c as Buffer);
  return hash.digest('hex');
}
