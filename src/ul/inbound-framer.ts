/**
 * Received bytes → PDUs for one association: a first-bytes sniff (another protocol on the
 * port is reported as such, not as a nonsense PDU length), then the bounded PduReader. After
 * the first error the stream is dead: later bytes give nothing (PS3.8 9.2: one Evt19, then the
 * association is aborted).
 */
import { DicomError } from '../errors.js';
import { pin } from '../internal/buffer-pool.js';
import { PduDecodeError, PduTooLargeError } from './errors.js';
import { PduReader, type PduReaderOptions } from './pdu/pdu-reader.js';
import { bytesToSniff, sniffTransport } from './pdu/sniff.js';
import { AbortReason, type Pdu } from './pdu/types.js';
import { TransportMismatchError } from './upper-layer-errors.js';

export type InboundItem =
  | { readonly kind: 'pdu'; readonly pdu: Pdu }
  /** Evt19: `reason` is the A-ABORT reason of PS3.8 Table 9-26 for `error`. */
  | { readonly kind: 'invalid'; readonly reason: number; readonly error: DicomError };

export class InboundFramer {
  readonly #reader: PduReader;
  /** First bytes held until enough are in to sniff (bytesToSniff), when the first byte is no PDU type. */
  #preamble: Uint8Array | undefined;
  #sniffed = false;
  #failed = false;
  /** Where the PDUs of the current push go, and the one callback that puts them there (not one per chunk). */
  #out: { push(item: InboundItem): unknown } | undefined;
  readonly #onPdu = (pdu: Pdu): void => void this.#out!.push({ kind: 'pdu', pdu });

  constructor(options: PduReaderOptions) {
    this.#reader = new PduReader(options);
  }

  /** The stream is over: give back the buffers held for an incomplete PDU. */
  clear(): void {
    this.#reader.clear();
  }

  get failed(): boolean {
    return this.#failed;
  }

  /**
   * Frame `chunk`, appending what it completes to `out`. `plain` says the connection has no TLS
   * (only then can raw TLS records arrive); `role` words the mismatch report.
   */
  push(chunk: Uint8Array, plain: boolean, role: 'requestor' | 'acceptor' | undefined, out: { push(item: InboundItem): unknown }): void {
    if (this.#failed) return;
    let bytes = chunk;
    if (!this.#sniffed) {
      pin(chunk); // the first bytes may be kept (the preamble, a mismatch report)
      bytes = this.#preamble === undefined ? chunk : Buffer.concat([this.#preamble, chunk]);
      this.#preamble = undefined;
      const first = bytes[0];
      if (first === undefined) return;
      if (first < 0x01 || first > 0x07) {
        // Not a PDU type: sniff (three bytes tell TLS, four HTTP) before the reader calls it "unrecognized".
        if (bytes.length < Math.max(3, bytesToSniff(first))) {
          this.#preamble = bytes;
          return;
        }
        const kind = sniffTransport(bytes);
        if ((kind === 'tls' && plain) || kind === 'http') {
          this.#sniffed = true;
          this.#failed = true;
          out.push({ kind: 'invalid', reason: AbortReason.UnrecognizedPdu, error: new TransportMismatchError(kind, role, bytes) });
          return;
        }
      }
      this.#sniffed = true;
    }
    this.#out = out;
    try {
      this.#reader.feed(bytes, this.#onPdu);
    } catch (e) {
      this.#failed = true;
      const error =
        e instanceof PduDecodeError || e instanceof PduTooLargeError
          ? e
          : new PduDecodeError('PDU', 'undecodable PDU', AbortReason.NotSpecified, { cause: e });
      out.push({ kind: 'invalid', reason: error.abortReason, error });
    }
  }
}
