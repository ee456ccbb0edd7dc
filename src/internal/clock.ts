/**
 * A monotonic clock in milliseconds, like `performance.now()` but without the global
 * `performance`: its first use loads Node's perf_hooks (nine modules, ~0.6 ms), a cost every CLI
 * command paid for a deadline and a time slice.
 */
export function monotonicMs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}
