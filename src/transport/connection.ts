import type { Duplex } from 'node:stream';
import type { X509Certificate } from 'node:crypto';

/**
 * What the upper layer sees of a transport: a byte stream plus, for TLS, the facts of the
 * handshake. Plain TCP (`net.Socket`) and TLS (`SecureSocket`) both satisfy it. TLS-only facts
 * stay on `tls`, so the upper layer never imports the TLS engine.
 */
export interface TransportConnection {
  /** The byte stream; 'data', 'end', 'close', 'error' and backpressure as any Node Duplex. */
  readonly stream: Duplex;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  /** Present only on a TLS connection whose handshake completed. */
  readonly tls: TlsInfo | undefined;
  /**
   * Optional: write `chunks`, in order, as one, without the stream's buffering (no Writable
   * queue, cork or callback), when the transport can take them at once: nothing is queued in
   * `stream` and its socket is not full. Returns false, having written nothing, when it cannot;
   * the caller then writes through `stream`. A transport may refuse large batches; one that takes
   * them must say so in `needsDrain`.
   */
  writeDirect?(chunks: readonly Uint8Array[]): boolean;
  /**
   * Optional, with writeDirect: true while bytes it took still wait to be written (the socket
   * was full); `stream` emits 'drain' once they are. Wait for it as for `stream.writableNeedDrain`.
   */
  readonly needsDrain?: boolean;
  /**
   * Optional: `listener` is the one 'data' listener of `stream`, and may be called directly with
   * received bytes whenever the stream would emit them to it at once (it flows, nothing is
   * buffered, no other 'data' listener, and the call does not come from inside the stream's own
   * machinery, e.g. its _read, where it may hold a chunk not yet emitted): the same calls in the
   * same order, without the
   * Readable's push, buffer bookkeeping and read-ahead tick for every chunk. Each chunk may
   * carry one receive-buffer reference (internal/buffer-pool.ts) that the listener owns and
   * releases or pins; the transport may re-register the listener on `stream` to do so.
   */
  receiveDirect?(listener: (chunk: Uint8Array) => void): void;
}

/** Read-only facts of a completed TLS handshake. */
export interface TlsInfo {
  /** 'TLSv1.3', 'TLSv1.2', … as OpenSSL names it (SSL_get_version). */
  readonly protocol: string;
  /** OpenSSL cipher name, e.g. 'TLS_AES_256_GCM_SHA384' or 'ECDHE-RSA-AES128-GCM-SHA256'. */
  readonly cipher: string;
  /**
   * Key-exchange group, e.g. 'X25519MLKEM768' (hybrid post-quantum) or 'X25519'; undefined when
   * the key exchange used none (TLS 1.2 RSA or DHE).
   */
  readonly group?: string | undefined;
  /** Negotiated ALPN protocol, or undefined. */
  readonly alpn: string | undefined;
  /** True when the session was resumed (no full handshake). */
  readonly resumed: boolean;
  /** The peer's chain as sent, leaf first (empty if the peer sent no certificate). */
  readonly peerCertificateChain: readonly X509Certificate[];
  /** Leaf certificate of the peer, if any. */
  readonly peerCertificate: X509Certificate | undefined;
  /**
   * The leaf's subject as `peerCertificate.subject` gives it (one `KEY=value` per line), printed
   * by OpenSSL, so reading it does not load node:crypto; undefined without a peer certificate.
   * Optional: a transport of one's own may leave it out (read `peerCertificate` then).
   */
  readonly peerSubject?: string | undefined;
  /** SSL_get_verify_result: 0 (X509_V_OK) or the X509_V_ERR code, with its name and OpenSSL text. */
  readonly verifyResult: { readonly code: number; readonly name: string; readonly text: string };
}
