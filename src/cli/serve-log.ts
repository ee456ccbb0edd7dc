/**
 * `serve`'s log, written through pino: levels (`--log-level`), one JSON object per line with
 * `time`, `level`, `msg`, `event` and the event's fields (`--log-format json`), or the human form
 * `2026-11-22T03:20:00Z message` (the default). Patient-identifying fields are replaced by
 * "[redacted]" — in the fields and wherever their values appear in the message — unless
 * `--log-phi` is given: logs travel further than the archive does.
 */
import { pino, type Logger } from 'pino';
import { usageError } from './errors.js';
import { escapeControls } from './escape-controls.js';
import type { Writable } from 'node:stream';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Fields that identify a patient (PS3.15 E.1's basic profile, the ones the index records). */
export const PHI_FIELDS = ['patientName', 'patientId', 'patientBirthDate', 'patientSex', 'accessionNumber', 'referringPhysicianName', 'studyDescription', 'studyDate'] as const;
export const REDACTED = '[redacted]';

export interface ServeLogOptions {
  level?: string | undefined;
  format?: string | undefined;
  phi?: boolean | undefined;
}

export type LogFields = Record<string, unknown>;
/** One log line: the event name (a stable word), a sentence for people, machine fields. */
export type ServeLog = ((event: string, text: string, fields?: LogFields, level?: Exclude<LogLevel, 'silent'>) => void) & {
  readonly level: LogLevel;
  readonly format: LogFormat;
  enabled(level: LogLevel): boolean;
};

export function checkLogOptions(o: ServeLogOptions): { level: LogLevel; format: LogFormat; phi: boolean } {
  // DCMTK's name for "no log" is off.
  const level = (o.level === 'off' ? 'silent' : o.level ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(level)) throw usageError(`--log-level must be one of ${LOG_LEVELS.join(', ')} (or off); got "${o.level}"`);
  const format = (o.format ?? 'text') as LogFormat;
  if (!LOG_FORMATS.includes(format)) throw usageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}; got "${o.format}"`);
  return { level, format, phi: o.phi === true };
}

/** The human form: pino's JSON line back into `time [LEVEL ]message` (no level word for info and debug). */
function textStream(out: Writable): { write(line: string): void } {
  return {
    write(line: string): void {
      const o = JSON.parse(line) as { time: string; level: string; msg: string };
      const tag = o.level === 'warn' ? 'warning: ' : o.level === 'error' || o.level === 'fatal' ? 'error: ' : '';
      out.write(`${o.time.replace(/\.\d+Z$/, 'Z')} ${tag}${escapeControls(o.msg)}\n`);
    },
  };
}

/**
 * The longest string a log line carries in its message or any field. Messages and fields quote
 * what peers sent (a user name of up to 64 KiB, a 60 000-character UID in a data set it refuses):
 * uncapped, every association of an unauthenticated peer could write 100 KiB of log.
 */
export const MAX_LOGGED_STRING = 2048;

function clip(text: string): string {
  return text.length <= MAX_LOGGED_STRING ? text : `${text.slice(0, MAX_LOGGED_STRING)}…(${text.length - MAX_LOGGED_STRING} more characters)`;
}

/** The fields with every string (at any depth) clipped; objects copied only where one was. */
function clipFields(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return clip(v);
  if (typeof v !== 'object' || v === null || depth > 8) return v;
  if (Array.isArray(v)) {
    const out = v.map((x) => clipFields(x, depth + 1));
    return out.some((x, i) => x !== v[i]) ? out : v;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v)) {
    const c = clipFields(x, depth + 1);
    if (c !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = c;
  }
  return out ?? v;
}

/** Each PHI value found in the fields (at any depth) is also cut out of the message. */
function phiValues(fields: unknown, acc: string[] = []): string[] {
  if (typeof fields !== 'object' || fields === null) return acc;
  for (const [k, v] of Object.entries(fields)) {
    if ((PHI_FIELDS as readonly string[]).includes(k) && typeof v === 'string' && v.trim().length > 0) acc.push(v.trim());
    else if (typeof v === 'object') phiValues(v, acc);
  }
  return acc;
}

export function createServeLog(out: Writable, o: ServeLogOptions): ServeLog {
  const { level, format, phi } = checkLogOptions(o);
  const paths = PHI_FIELDS.flatMap((f) => [f, `*.${f}`]);
  const logger: Logger = pino({
    level,
    base: null,
    messageKey: 'msg',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    ...(phi ? {} : { redact: { paths, censor: REDACTED } }),
  }, format === 'json' ? out : textStream(out));
  const log = ((event: string, text: string, fields: LogFields = {}, at: Exclude<LogLevel, 'silent'> = 'info'): void => {
    if (!logger.isLevelEnabled(at)) return;
    let msg = text;
    if (!phi) for (const v of phiValues(fields).sort((a, b) => b.length - a.length)) msg = msg.split(v).join(REDACTED);
    logger[at]({ event, ...(clipFields(fields) as LogFields) }, clip(msg));
  }) as ServeLog;
  Object.defineProperties(log, {
    level: { value: level }, format: { value: format },
    enabled: { value: (l: LogLevel) => logger.isLevelEnabled(l) },
  });
  return log;
}
