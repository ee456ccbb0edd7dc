import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/** A fresh temporary directory and its remover. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `dicom-tls-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export type Element = readonly [tag: number, vr: string, value: string | Uint8Array];

const longVrs = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** A test-side data set encoder (PS3.5 7.1), independent of the code under test. */
export function encodeDataset(elements: readonly Element[], options: { explicit?: boolean } = {}): Buffer {
  const explicit = options.explicit ?? true;
  const parts: Buffer[] = [];
  for (const [tag, vr, value] of [...elements].sort((a, b) => a[0] - b[0])) {
    let bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    if (bytes.length % 2 === 1) bytes = Buffer.concat([bytes, Buffer.from([vr === 'UI' || vr === 'OB' ? 0 : 0x20])]);
    parts.push(elementHeader(tag, vr, bytes.length, explicit), bytes);
  }
  return Buffer.concat(parts);
}

export function elementHeader(tag: number, vr: string, length: number, explicit = true): Buffer {
  const long = longVrs.has(vr);
  const h = Buffer.alloc(explicit && long ? 12 : 8);
  h.writeUInt16LE(tag >>> 16, 0);
  h.writeUInt16LE(tag & 0xffff, 2);
  if (!explicit) h.writeUInt32LE(length, 4);
  else {
    h.write(vr, 4, 'latin1');
    if (long) h.writeUInt32LE(length, 8);
    else h.writeUInt16LE(length, 6);
  }
  return h;
}

export interface InstanceSpec {
  PatientName?: string;
  PatientID?: string;
  PatientBirthDate?: string;
  PatientSex?: string;
  StudyInstanceUID: string;
  StudyDate?: string;
  StudyTime?: string;
  AccessionNumber?: string;
  StudyID?: string;
  StudyDescription?: string;
  ReferringPhysicianName?: string;
  SeriesInstanceUID: string;
  Modality?: string;
  SeriesNumber?: string;
  SeriesDescription?: string;
  SOPInstanceUID: string;
  SOPClassUID?: string;
  InstanceNumber?: string;
  SpecificCharacterSet?: string;
}

export const ctImageStorage = '1.2.840.10008.5.1.4.1.1.2';
export const secondaryCaptureStorage = '1.2.840.10008.5.1.4.1.1.7';

const specTags: Record<string, readonly [number, string]> = {
  SpecificCharacterSet: [0x00080005, 'CS'],
  SOPClassUID: [0x00080016, 'UI'],
  SOPInstanceUID: [0x00080018, 'UI'],
  StudyDate: [0x00080020, 'DA'],
  StudyTime: [0x00080030, 'TM'],
  AccessionNumber: [0x00080050, 'SH'],
  Modality: [0x00080060, 'CS'],
  ReferringPhysicianName: [0x00080090, 'PN'],
  StudyDescription: [0x00081030, 'LO'],
  SeriesDescription: [0x0008103e, 'LO'],
  PatientName: [0x00100010, 'PN'],
  PatientID: [0x00100020, 'LO'],
  PatientBirthDate: [0x00100030, 'DA'],
  PatientSex: [0x00100040, 'CS'],
  StudyInstanceUID: [0x0020000d, 'UI'],
  SeriesInstanceUID: [0x0020000e, 'UI'],
  StudyID: [0x00200010, 'SH'],
  SeriesNumber: [0x00200011, 'IS'],
  InstanceNumber: [0x00200013, 'IS'],
};

export function specElements(spec: InstanceSpec): Element[] {
  const out: Element[] = [];
  const full = { SOPClassUID: secondaryCaptureStorage, ...spec } as Record<string, string | undefined>;
  for (const [key, [tag, vr]] of Object.entries(specTags)) {
    const v = full[key];
    if (v !== undefined) out.push([tag, vr, v]);
  }
  return out;
}

/** A dump2dcm input line for each element of `spec`, and for extra lines. */
export function dumpText(spec: InstanceSpec, extra: readonly string[] = []): string {
  const lines: string[] = [];
  const full = { SOPClassUID: secondaryCaptureStorage, ...spec } as Record<string, string | undefined>;
  for (const [key, [tag, vr]] of Object.entries(specTags)) {
    const v = full[key];
    if (v === undefined) continue;
    const t = tag.toString(16).padStart(8, '0');
    lines.push(`(${t.slice(0, 4)},${t.slice(4)}) ${vr} [${v}]`);
  }
  return [...lines, ...extra].join('\n') + '\n';
}

/** Write a file with DCMTK's dump2dcm from `text`; `args` e.g. ['+te'], ['+td'], ['-F']. */
export async function dump2dcm(dir: string, name: string, text: string, args: readonly string[] = []): Promise<string> {
  const dump = join(dir, `${name}.dump`);
  const out = join(dir, name);
  await writeFile(dump, text);
  await run('dump2dcm', ['-q', ...args, dump, out]);
  return out;
}

/** DCMTK's dcmdump of a file (meta header included). */
export async function dcmdump(path: string, args: readonly string[] = []): Promise<string> {
  const { stdout } = await run('dcmdump', ['-q', '+L', ...args, path], { maxBuffer: 16 << 20 });
  return stdout;
}

/** The value dcmdump shows for a tag like '0002,0010' ('[...]' or '=Name'). */
export function dumpValue(dump: string, tag: string): string | undefined {
  const line = dump.split('\n').find((l) => l.trimStart().startsWith(`(${tag.toLowerCase()})`));
  if (line === undefined) return undefined;
  const m = /\[(.*)\]/.exec(line) ?? /=(\S+)/.exec(line);
  return m?.[1];
}

/** The value of an SQ element: defined-length items (PS3.5 7.5.1), explicit VR LE. */
export function encodeSequence(items: readonly (readonly Element[])[]): Buffer {
  return Buffer.concat(
    items.map((elements) => {
      const body = encodeDataset(elements);
      const h = Buffer.alloc(8);
      h.writeUInt32LE(0xe000fffe, 0);
      h.writeUInt32LE(body.length, 4);
      return Buffer.concat([h, body]);
    }),
  );
}
