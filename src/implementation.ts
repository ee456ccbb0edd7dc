/**
 * What this implementation calls itself, in associations (PS3.7 D.3.3.2, sub-items 0x52/0x55) and
 * in the File Meta Information of the files it writes (PS3.10 7.1, (0002,0012)/(0002,0013)):
 * one pair, so a file can be traced to the software that wrote it.
 */

/**
 * Implementation Class UID. Root 2.25 (ISO/IEC 9834-8: a UUID as one decimal integer, no
 * registration needed): UUID 7d4542d7-939f-4451-a15c-59f0c7401718, generated once for dicom-tls
 * and never to be reused.
 */
export const IMPLEMENTATION_CLASS_UID = '2.25.166513123675129007072215873388596434712';

/** Implementation Version Name: at most 16 characters; bump with the release. */
export const IMPLEMENTATION_VERSION_NAME = 'DICOMTLS_010';
