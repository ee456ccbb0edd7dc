/**
 * Shape checks for option objects given to the library's entry points (DicomServer,
 * StorageServer, the SCU calls): TypeScript keeps typed callers right, but a JavaScript caller, a
 * config read from JSON or a typo (`maxAssocations`) slipped through to a late TypeError or was
 * silently ignored. Each check throws InvalidOptionError (DICOM_ERR_INVALID_OPTION) naming the
 * option's path and what it must be; values are checked further where they are used.
 */
import { InvalidOptionError } from '../errors.js';

/** Checks one value, `option` being its path for the message. */
export type Check = (option: string, v: unknown) => void;

/** How a bad value reads in a message. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'function') return 'a function';
  return typeof v === 'string' ? `'${v}'` : typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function fail(option: string, must: string, v: unknown): never {
  throw new InvalidOptionError(option, `must be ${must}, got ${describe(v)}`);
}

export const isPlainObject = (v: unknown): v is Readonly<Record<string, unknown>> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** An object (not null, not an array): a record of fields, or an instance checked where it is used. */
export const object: Check = (option, v) => {
  if (!isPlainObject(v)) fail(option, 'an object', v);
};

/** A whole number within [min, max]. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): Check {
  const must = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer ${min}–${max}`;
  return (option, v) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(option, must, v);
  };
}

/** Milliseconds: a finite number ≥ 0. */
export const milliseconds: Check = (option, v) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(option, 'a non-negative number of milliseconds', v);
};

export const boolean: Check = (option, v) => {
  if (typeof v !== 'boolean') fail(option, 'true or false', v);
};

export const string: Check = (option, v) => {
  if (typeof v !== 'string') fail(option, 'a string', v);
};

export const func: Check = (option, v) => {
  if (typeof v !== 'function') fail(option, 'a function', v);
};

/** Anything: checked where it is used. */
export const any: Check = () => undefined;

export const abortSignal: Check = (option, v) => {
  if (typeof AbortSignal === 'undefined' || !(v instanceof AbortSignal)) fail(option, 'an AbortSignal', v);
};

/** An array whose items pass `item`. */
export function arrayOf(item: Check, what: string): Check {
  return (option, v) => {
    if (!Array.isArray(v)) fail(option, what, v);
    v.forEach((x, i) => item(`${option}[${i}]`, x));
  };
}

/** One of the values listed. */
export function oneOf(values: readonly unknown[]): Check {
  return (option, v) => {
    if (!values.includes(v)) fail(option, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v);
  };
}

/** The first of `checks` whose `accepts` says the value is its kind; none: `what` is named. */
export function either(what: string, ...checks: readonly (readonly [accepts: (v: unknown) => boolean, check: Check])[]): Check {
  return (option, v) => {
    for (const [accepts, check] of checks) if (accepts(v)) return check(option, v);
    fail(option, what, v);
  };
}

/** `check`, and the key must be there (checkFields skips the others when absent). */
export function required(check: Check): Check {
  return Object.assign((option: string, v: unknown) => check(option, v), { required: true });
}

const isRequired = (check: Check): boolean => (check as { required?: boolean }).required === true;

/** An object whose keys are among `fields` (undefined values skipped), each passing its check. */
export function fields(shape: Readonly<Record<string, Check>>): Check {
  return (option, v) => checkFields(option, v, shape);
}

/**
 * `value` must be an object whose every key is in `shape` and whose every defined value passes
 * its check; `option` is its path ('' for the top-level options object: keys are named bare).
 */
export function checkFields(option: string, value: unknown, shape: Readonly<Record<string, Check>>): void {
  if (!isPlainObject(value)) fail(option === '' ? 'options' : option, 'an object', value);
  const prefix = option === '' ? '' : `${option}.`;
  for (const key of Object.keys(value)) {
    const check = shape[key];
    if (check === undefined) {
      throw new InvalidOptionError(`${prefix}${key}`, `is not a known option (known: ${Object.keys(shape).join(', ')})`);
    }
    const v = value[key];
    if (v !== undefined) check(`${prefix}${key}`, v);
  }
  for (const [key, check] of Object.entries(shape)) {
    if (isRequired(check) && value[key] === undefined) throw new InvalidOptionError(`${prefix}${key}`, 'is required');
  }
}
