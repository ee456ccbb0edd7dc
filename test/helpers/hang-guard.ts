/** Waits with hang guards: a deadlock fails the test with what it waited for, never a timing bound. */

/** Rejects after `ms` (a hang guard for a deadlock, not a timing bound). */
export function hangGuard<T>(p: Promise<T>, what: string, ms = 120_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hung: ${what}`)), ms)));
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

/** Resolves when `check` holds, polling; rejects after `guard` ms (a hang guard). */
export async function until(check: () => boolean, what: string, guard = 60_000): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > guard) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
