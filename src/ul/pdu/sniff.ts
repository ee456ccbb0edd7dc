/**
 * Recognise what a peer speaks from its first bytes, so a wrong port is reported as such
 * ("the peer speaks TLS on a plain DICOM port") instead of as a nonsense PDU length.
 *
 * - TLS: a record header, content type 0x14–0x17 (ChangeCipherSpec, Alert, Handshake,
 *   ApplicationData), major version 3, minor 0–4 (RFC 8446 5.1; a ClientHello is 16 03 0x).
 * - DICOM: an upper-layer PDU header (PS3.8 9.3.1): type 1–7, reserved byte 0; for
 *   A-ASSOCIATE-RQ/-AC, the protocol version at offset 6 has bit 0 set; the fixed-size PDUs
 *   have PDU-length 4.
 * - HTTP: an ASCII request method or "HTTP/" status line.
 */
export type SniffedTransport = 'tls' | 'dicom' | 'http' | 'unknown';

const HTTP_PREFIXES = ['GET ', 'POST ', 'PUT ', 'HEAD ', 'DELETE ', 'OPTIONS ', 'PATCH ', 'CONNECT ', 'TRACE ', 'PRI * ', 'HTTP/'];

/**
 * How many first bytes `sniffTransport` needs to recognise another protocol that starts with
 * `firstByte`: 3 for a TLS record header, 4 for an HTTP method (the shortest prefix it matches,
 * "GET "), 0 when no other protocol starts that way. Callers wait for this many bytes so the
 * answer does not depend on how the stream was chunked.
 */
export function bytesToSniff(firstByte: number): number {
  if (firstByte >= 0x14 && firstByte <= 0x17) return 3;
  if (firstByte >= 0x41 && firstByte <= 0x5a) return 4;
  return 0;
}

/**
 * Classify the first bytes received on a connection. Three bytes decide TLS, two decide DICOM
 * and more make it surer; 'unknown' when nothing matches (or too few bytes to say).
 */
export function sniffTransport(firstBytes: Uint8Array): SniffedTransport {
  const b = firstBytes;
  const b0 = b[0];
  if (b0 === undefined) return 'unknown';
  if (b0 >= 0x14 && b0 <= 0x17 && b[1] === 0x03 && b[2] !== undefined && b[2] <= 0x04) return 'tls';
  if (b0 >= 0x01 && b0 <= 0x07 && b[1] === 0x00) {
    if (b.length >= 6) {
      const length = ((b[2] as number) * 0x1000000) + (((b[3] as number) << 16) | ((b[4] as number) << 8) | (b[5] as number));
      if (b0 === 0x01 || b0 === 0x02) {
        // Fixed part of an A-ASSOCIATE-RQ/-AC alone is 68 bytes (Table 9-11).
        if (length < 68) return 'unknown';
        if (b.length >= 8 && ((b[7] as number) & 0x01) === 0) return 'unknown';
      } else if (b0 !== 0x04 && length !== 4) {
        return 'unknown';
      }
    }
    return 'dicom';
  }
  let ascii = '';
  for (let i = 0; i < Math.min(b.length, 9); i++) ascii += String.fromCharCode(b[i] as number);
  if (HTTP_PREFIXES.some((p) => ascii.length >= Math.min(p.length, 4) && (ascii.startsWith(p) || p.startsWith(ascii)))) return 'http';
  return 'unknown';
}
