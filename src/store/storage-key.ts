/**
 * Storage keys: where a stored copy lives relative to the store's root (a directory, a bucket
 * prefix), `<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`, always '/'-separated.
 * The index keeps keys, never absolute paths: every node sharing a store resolves them itself.
 */
import { randomBytes } from 'node:crypto';
import { isAbsolute, join, sep } from 'node:path';
import { StoreError, storeErrorCodes } from './errors.js';

/** The key of an instance's copy (the UIDs are checked by the FileStore before they get here). */
export function storageKeyOf(studyUid: string, seriesUid: string, sopInstanceUid: string): string {
  return `${studyUid}/${seriesUid}/${sopInstanceUid}.dcm`;
}

/**
 * The key of a further copy of an instance whose row exists: `<study>/<series>/<uid>-<token>.dcm`,
 * a key no earlier copy used (the token: the time in base 36 and 4 random bytes). A copy that
 * replaces an indexed one is never written where the indexed one is: that one stays whole until
 * the row names the new copy (commit.ts placeUnderIndex), whether the store writes objects
 * atomically (a rename, S3) or in place (s3rver, some S3 stand-ins).
 */
export function versionedKeyOf(studyUid: string, seriesUid: string, sopInstanceUid: string): string {
  return `${studyUid}/${seriesUid}/${sopInstanceUid}-${Date.now().toString(36)}${randomBytes(4).toString('hex')}.dcm`;
}

/** The SOP Instance UID a key names (`…/<uid>.dcm` or `…/<uid>-<token>.dcm`), or undefined for a key the store never writes. */
export function uidOfKey(key: string): string | undefined {
  const m = /(?:^|\/)(\d+(?:\.\d+)*)(?:-[0-9a-z]+)?\.dcm$/.exec(key);
  return m?.[1];
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
  // join(root, ...parts) without normalising the checked key again on every call (one per
  // stored instance): the root's normal form and a separator, once per root.
  let prefix = rootPrefixes.get(root);
  if (prefix === undefined) {
    prefix = join(root, 'k').slice(0, -1);
    if (rootPrefixes.size >= 16) rootPrefixes.clear();
    rootPrefixes.set(root, prefix);
  }
  return prefix + (sep === '/' ? key : parts.join(sep));
}

const rootPrefixes = new Map<string, string>();
