import { createRequire } from 'node:module';
/**
 * The one place that loads dcmjs, typed with just what this project uses. dcmjs ships no type
 * declarations; rather than a hand-written .d.ts of its whole surface, the module is loaded with
 * `require` (typed `any`) and narrowed to this interface.
 */

/** A dcmjs "denaturalized" dataset: tag hex string → { vr, Value }. */
export type DcmjsDict = Record<string, { vr: string; Value?: unknown[] }>;

export interface DcmjsReadStream {
  offset: number;
}
export interface DcmjsWriteStream {
  getBuffer(): ArrayBuffer;
  size: number;
}

/** dcmjs's bundled loglevel logger: the root of its own log tree (not the host's loglevel). */
export interface DcmjsLog {
  readonly levels: { readonly SILENT: number };
  getLevel(): number;
  setLevel(level: number, persist?: boolean): void;
  /** Re-derives child loggers (dcmjs's "validation.dcmjs") from the root's level. */
  rebuild(): void;
}

export interface Dcmjs {
  readonly log: DcmjsLog;
  readonly data: {
    readonly DicomMessage: {
      /**
       * Reads elements until the stream ends. The public `read` wraps this but logs a deprecation
       * warning through loglevel, and this library never logs; so the underscore form is used.
       */
      _read(stream: DcmjsReadStream, syntax: string, options: Record<string, unknown>): DcmjsDict;
      write(dict: DcmjsDict, stream: DcmjsWriteStream, syntax: string, options: Record<string, unknown>): number;
    };
    readonly ReadBufferStream: new (buffer: ArrayBuffer, littleEndian: boolean, options?: Record<string, unknown>) => DcmjsReadStream;
    readonly WriteBufferStream: new (defaultSize: number, littleEndian: boolean) => DcmjsWriteStream;
    readonly DicomMetaDictionary: {
      naturalizeDataset(dict: DcmjsDict): Record<string, unknown>;
      denaturalizeDataset(dataset: Record<string, unknown>): DcmjsDict;
      /** "(gggg,eeee)" (upper-case hex) → dictionary entry. */
      readonly dictionary: Record<string, { vr?: string } | undefined>;
      /** keyword → dictionary entry. */
      readonly nameMap: Record<string, unknown>;
    };
    readonly DicomDict: new (meta: DcmjsDict) => { dict: DcmjsDict; write(options?: Record<string, unknown>): ArrayBuffer };
  };
}

/**
 * Loaded on first use, not at import: dcmjs costs ~16 MB of resident memory and ~50-100 ms of
 * start-up, and a storing SCP or an SCU sending files never needs it (bench: SCP peak RSS and CLI
 * start-up). The synchronous codec API needs a synchronous load, so this is dcmjs's CommonJS build
 * (its package exports map `require` to the same library, bundled as UMD).
 */
const require = createRequire(import.meta.url);
let loaded: Dcmjs | undefined;
export const dcmjs: Dcmjs = {
  get data(): Dcmjs['data'] {
    loaded ??= require('dcmjs') as Dcmjs;
    return loaded.data;
  },
  get log(): DcmjsLog {
    loaded ??= require('dcmjs') as Dcmjs;
    return loaded.log;
  },
};

/**
 * Run a dcmjs call with its logger silenced, then restore the level. dcmjs reports bad values
 * (e.g. an FD of 3 bytes from a peer) with console.error through loglevel and goes on; this
 * library never logs (the failure reaches the caller as a typed error instead), and a peer must
 * not be able to write to the host's stderr. Scoped per call, so a host that uses dcmjs itself
 * keeps its logging. The calls are synchronous: nothing else runs while the level is changed.
 */
export function quietly<T>(fn: () => T): T {
  const log = dcmjs.log;
  const level = log.getLevel();
  log.setLevel(log.levels.SILENT, false);
  log.rebuild();
  try {
    return fn();
  } finally {
    log.setLevel(level, false);
    log.rebuild();
  }
}
