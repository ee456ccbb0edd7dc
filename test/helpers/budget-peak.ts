/** The peak of a server's buffer budget, for the tests that bound what request data sets hold. */
import { BufferBudget } from '../../src/ae/buffer-budget.js';

/**
 * The largest count a budget whose limit is `limit` reached (the server's, told apart from the
 * per-association budgets by its limit), observed at every byte taken: no sampling interval to
 * miss a peak. `stop()` puts BufferBudget back as it was.
 */
export function watchPeak(limit: number): { peak: () => number; stop: () => void } {
  const take = BufferBudget.prototype.take;
  let peak = 0;
  BufferBudget.prototype.take = function (this: BufferBudget, bytes: number): void {
    take.call(this, bytes);
    if (this.limit === limit) peak = Math.max(peak, this.held);
  };
  return { peak: () => peak, stop: () => void (BufferBudget.prototype.take = take) };
}
