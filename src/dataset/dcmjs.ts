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

export interface Dcmjs {
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
};
