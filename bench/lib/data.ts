/**
 * Bench data: valid Part 10 files (PS3.10 §7.1) in Explicit VR Little Endian, written by a small
 * generator so the bench needs nothing but itself. Generated into bench/data/ (gitignored) only
 * when missing or incomplete.
 *
 * - small: 200 × Secondary Capture Image Storage, 224 × 224 × 16 bit = 100 352 pixel bytes (~100 KB)
 * - large: 10 × Multi-frame Grayscale Word SC Image Storage, 100 frames of 512 × 512 × 16 bit
 *   = 52 428 800 pixel bytes (~52 MB)
 */
import { mkdir, open, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { explicitElement, explicitText, explicitUs } from '../../src/dataset/explicit-element.js';

const EXPLICIT_VR_LE = '1.2.840.10008.1.2.1';
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
const MF_GRAYSCALE_WORD_SC = '1.2.840.10008.5.1.4.1.1.7.3';
/** A UID root for bench-generated objects (2.25: UUID-derived, PS3.5 §B.2). */
const ROOT = '2.25.2718281828459045235360287471352';
const IMPLEMENTATION_CLASS_UID = `${ROOT}.1`;

export interface DataSet {
  readonly small: readonly string[];
  /** 20 more small instances (their own study): the untimed association that warms an SCP. */
  readonly warm: readonly string[];
  readonly large: readonly string[];
  readonly smallBytes: number;
  readonly largeBytes: number;
}

interface Spec {
  readonly dir: string;
  readonly count: number;
  readonly sopClass: string;
  readonly rows: number;
  readonly columns: number;
  readonly frames: number | undefined;
  /** Study number under the bench UID root; default 1 (small) or 2 (multi-frame). */
  readonly study?: number;
}

const element = explicitElement;
const str = explicitText;
const us = explicitUs;

/** Everything up to and including the Pixel Data element header; the pixel bytes follow. */
function header(spec: Spec, index: number, pixelBytes: number): Buffer {
  const study = `${ROOT}.2.${spec.study ?? (spec.frames === undefined ? 1 : 2)}`;
  const series = `${study}.1`;
  const instance = `${series}.${index + 1}`;
  const meta = Buffer.concat([
    element(0x0002, 0x0001, 'OB', Buffer.from([0, 1])),
    str(0x0002, 0x0002, 'UI', spec.sopClass),
    str(0x0002, 0x0003, 'UI', instance),
    str(0x0002, 0x0010, 'UI', EXPLICIT_VR_LE),
    str(0x0002, 0x0012, 'UI', IMPLEMENTATION_CLASS_UID),
    str(0x0002, 0x0013, 'SH', 'DICOMTLS_BENCH'),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(meta.length);
  const at = Buffer.alloc(4);
  at.writeUInt16LE(0x0018, 0);
  at.writeUInt16LE(0x1063, 2); // Frame Increment Pointer → Frame Time
  const frames = spec.frames;
  const dataset = Buffer.concat([
    str(0x0008, 0x0016, 'UI', spec.sopClass),
    str(0x0008, 0x0018, 'UI', instance),
    str(0x0008, 0x0020, 'DA', '20260101'),
    str(0x0008, 0x0060, 'CS', 'OT'),
    str(0x0008, 0x0064, 'CS', 'WSD'),
    str(0x0010, 0x0010, 'PN', 'BENCH^DATA'),
    str(0x0010, 0x0020, 'LO', 'BENCH-1'),
    ...(frames === undefined ? [] : [str(0x0018, 0x1063, 'DS', '40')]),
    str(0x0020, 0x000d, 'UI', study),
    str(0x0020, 0x000e, 'UI', series),
    str(0x0020, 0x0011, 'IS', '1'),
    str(0x0020, 0x0013, 'IS', String(index + 1)),
    us(0x0028, 0x0002, 1),
    str(0x0028, 0x0004, 'CS', 'MONOCHROME2'),
    ...(frames === undefined ? [] : [str(0x0028, 0x0008, 'IS', String(frames)), element(0x0028, 0x0009, 'AT', at)]),
    us(0x0028, 0x0010, spec.rows),
    us(0x0028, 0x0011, spec.columns),
    us(0x0028, 0x0100, 16),
    us(0x0028, 0x0101, 12),
    us(0x0028, 0x0102, 11),
    us(0x0028, 0x0103, 0),
  ]);
  const pixelHeader = Buffer.alloc(12);
  pixelHeader.writeUInt16LE(0x7fe0, 0);
  pixelHeader.writeUInt16LE(0x0010, 2);
  pixelHeader.write('OW', 4, 'latin1');
  pixelHeader.writeUInt32LE(pixelBytes, 8);
  return Buffer.concat([
    Buffer.alloc(128),
    Buffer.from('DICM', 'latin1'),
    element(0x0002, 0x0000, 'UL', groupLength),
    meta,
    dataset,
    pixelHeader,
  ]);
}

/** 12-bit noise, varied per instance so no layer can get away with caching one payload. */
function pixelBlock(seed: number, bytes: number): Buffer {
  const block = Buffer.alloc(bytes);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < bytes; i += 2) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    block.writeUInt16LE(x & 0x0fff, i);
  }
  return block;
}

async function writeInstance(path: string, spec: Spec, index: number): Promise<void> {
  const frameBytes = spec.rows * spec.columns * 2;
  const frames = spec.frames ?? 1;
  // Written under a temporary name and renamed, so an interrupted run never leaves a short file
  // that a later run would take as present.
  const file = await open(`${path}.part`, 'w');
  try {
    await file.write(header(spec, index, frameBytes * frames));
    // A few distinct frames repeated: cheap to generate, still not one constant payload.
    const distinct = Array.from({ length: Math.min(frames, 4) }, (_, k) => pixelBlock(index * 7 + k + 1, frameBytes));
    for (let f = 0; f < frames; f++) await file.write(distinct[f % distinct.length]!);
  } finally {
    await file.close();
  }
  await rename(`${path}.part`, path);
}

async function ensure(spec: Spec): Promise<{ files: string[]; bytes: number }> {
  await mkdir(spec.dir, { recursive: true });
  const names = Array.from({ length: spec.count }, (_, i) => `${String(i + 1).padStart(4, '0')}.dcm`);
  const present = new Set(await readdir(spec.dir));
  const files: string[] = [];
  let bytes = 0;
  for (const [i, name] of names.entries()) {
    const path = join(spec.dir, name);
    if (!present.has(name)) await writeInstance(path, spec, i);
    files.push(path);
    bytes += (await stat(path)).size;
  }
  return { files, bytes };
}

/** Makes sure bench/data holds the data sets; writes only what is missing. */
export async function ensureData(dataDir: string): Promise<DataSet> {
  const small = await ensure({
    dir: join(dataDir, 'small'),
    count: 200,
    sopClass: SECONDARY_CAPTURE,
    rows: 224,
    columns: 224,
    frames: undefined,
  });
  const large = await ensure({
    dir: join(dataDir, 'large'),
    count: 10,
    sopClass: MF_GRAYSCALE_WORD_SC,
    rows: 512,
    columns: 512,
    frames: 100,
  });
  const warm = await ensure({
    dir: join(dataDir, 'warm'),
    count: 20,
    sopClass: SECONDARY_CAPTURE,
    rows: 224,
    columns: 224,
    frames: undefined,
    study: 3,
  });
  return { small: small.files, warm: warm.files, large: large.files, smallBytes: small.bytes, largeBytes: large.bytes };
}
