/**
 * Storage keys: where a stored copy lives relative to the store's root (a directory, a bucket
 * prefix), `<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`, always '/'-separated.
 * The index keeps keys, never absolute paths: every node sharing a store resolves them itself.
 */
import { isAbsolute, join, sep } from 'node:path';
import { StoreError, storeErrorCodes } from './errors.js';

/** The key of an instance's copy (the UIDs are checked by the FileStore before they get here). */
export function storageKeyOf(studyUid: string, seriesUid: string, sopInstanceUid: string): string {
  return `${studyUid}/${seriesUid}/${sopInstanceUid}.dcm`;
}

/**
 * The key of a path an older index recorded: an absolute path ends with the key's three
 * segments (the FileStore has always placed copies at <root>/<study>/<series>/<instance>.dcm).
 * A relative path is taken as a key.
 */
export function storageKeyOfPath(path: string): string {
  const parts = path.split(/[\\/]+/).filter((p) => p !== '');
  return (isAbsolute(path) ? parts.slice(-3) : parts).join('/');
}

/** The file of `key` under `root`; a key that would leave the root is an index failure. */
export function pathOfKey(root: string, key: string): string {
  const parts = key.split('/');
  if (key === '' || parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\') || p.includes(sep))) {
    throw new StoreError(storeErrorCodes.index, `the index holds an invalid storage key ${JSON.stringify(key)}`);
  }
  return join(root, ...parts);
}
