/**
 * A monotonic clock in milliseconds, like `performance.now()` but without the global
 * `performance`: its first use loads Node's perf_hooks (nine modules, ~0.6 ms), a cost every CLI
 * command paid for a deadline and a time slice. `process.hrtime.bigint()` rather than
 * `process.hrtime()`: the latter builds an array per call and cost ~5× as much.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
