/**
 * The contracts between the bench runner, the workloads and the peers. A peer is one DICOM
 * implementation seen from the bench: an SCP it can start in its own process, and an SCU it can
 * drive. Any SCU can be paired with any SCP, which is how the mixed pairs (our client → DCMTK
 * `storescp`, DCMTK `storescu` → our server) come for free once "ours" is available.
 */

/** One timed run of one workload. */
export interface Measurement {
  readonly seconds: number;
  /** Payload bytes moved (file sizes for C-STORE, 0 for association-rate runs). */
  readonly bytes: number;
  /** Instances stored, or associations made for the association-rate workloads. */
  readonly instances: number;
  /** Peak resident set of the SCP process (VmHWM), when the workload measures one. */
  readonly peakRssKb?: number;
  /** CPU time the SCP process spent during the timed part (all its threads), when there is one. */
  readonly scpCpuMs?: number;
  /** CPU time an in-process SCU (ours) spent during its own timed part, when it reports one. */
  readonly scuCpuMs?: number;
}

/** PEM files of the bench's development PKI (EC P-256, one CA, serverAuth+clientAuth). */
export interface TlsFiles {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export interface ScpOptions {
  readonly port: number;
  /** undefined: plain TCP. */
  readonly tls: TlsFiles | undefined;
  /** Directory to store received instances in; undefined: receive and discard (`--ignore`). */
  readonly outDir: string | undefined;
  /** Maximum receive PDU length the SCP announces; undefined: the peer's default. */
  readonly maxPdu?: number;
}

export interface ScpHandle {
  /** Process id of the SCP, so the runner can read its peak RSS. */
  readonly pid: number;
  /** Stops the SCP; returns its peak RSS (VmHWM) read just before it was stopped. */
  stop(): Promise<{ peakRssKb: number | undefined }>;
  /** Instances stored, for an SCP that does not store them as files in outDir (S3); read before stop. */
  stored?(): Promise<number>;
  /** The tail of what the SCP printed, when it runs as a child process: shown when a run fails. */
  output?(): string;
}

export interface ScuStoreOptions {
  readonly port: number;
  readonly tls: TlsFiles | undefined;
  /** Part 10 files, all sent on one association. */
  readonly files: readonly string[];
  readonly maxPdu?: number;
  /**
   * Before the timed part, the same client process stores `files` this many times (one association
   * each) into the SCP on `warmup.port`, untimed: an application that has been sending for a while.
   * Only ours supports it (a C program has no such state).
   */
  readonly warmup?: { readonly port: number; readonly rounds: number };
}

export interface ScuEchoOptions {
  readonly port: number;
  readonly tls: TlsFiles | undefined;
  /** Associations to make one after the other, each: connect, (handshake,) A-ASSOCIATE, C-ECHO, release. */
  readonly count: number;
  /** Resume TLS sessions across the associations (one client context keeps the session); only ours supports it. */
  readonly resume?: boolean;
  /**
   * Key-exchange groups the client offers (OpenSSL syntax); only ours supports it. With the
   * default, ours ↔ ours negotiate the hybrid X25519MLKEM768; 'X25519' measures the classical one.
   */
  readonly groups?: string;
  /** Associations made first, untimed, by the same client against the same server; only ours supports it. */
  readonly warmup?: number;
}

export interface ScuConcurrentOptions {
  readonly port: number;
  readonly tls: TlsFiles | undefined;
  /** One list of files per client; all clients start at once. */
  readonly filesPerClient: readonly (readonly string[])[];
}

/**
 * What an SCU reports: undefined means "time me as a whole command" (process spawn to exit);
 * a number is the SCU's own in-process measurement in seconds (library figure); the object form
 * adds the CPU time the SCU spent over that timed part.
 */
export type ScuTiming = number | { readonly seconds: number; readonly cpuMs?: number } | undefined;

export interface ScpPeer {
  readonly name: string;
  start(options: ScpOptions): Promise<ScpHandle>;
}

export interface ScuPeer {
  readonly name: string;
  /** "whole command" when the SCU is a CLI timed from spawn to exit, else "in-process". */
  readonly timing: 'whole command' | 'in-process';
  store(options: ScuStoreOptions): Promise<ScuTiming>;
  echo(options: ScuEchoOptions): Promise<ScuTiming>;
  storeConcurrent(options: ScuConcurrentOptions): Promise<ScuTiming>;
}

/** Thrown by a peer or workload that cannot run on this machine or in this build yet. */
export class NotAvailableError extends Error {
  override readonly name = 'NotAvailableError';
}
