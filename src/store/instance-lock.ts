/**
 * In-process instance locks: placings of one SOP instance run one at a time within a process
 * (the embedded index's lockInstance; PostgreSQL adds a database lock across processes).
 */
const instanceLocks = new Map<string, Promise<void>>();

/** Resolves once the caller holds `key`, with the function that lets it go. */
export async function lockInProcess(key: string): Promise<() => Promise<void>> {
  const previous = instanceLocks.get(key);
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = previous === undefined ? mine : previous.then(() => mine);
  instanceLocks.set(key, tail);
  await previous;
  return async () => {
    release();
    if (instanceLocks.get(key) === tail) instanceLocks.delete(key);
  };
}
