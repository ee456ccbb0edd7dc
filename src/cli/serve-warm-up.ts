/**
 * serve's start-up warm-up (services/scp/warm-up.ts), run before anything subscribes to the
 * library's channels: its loopback associations are neither logged nor audited. A failed warm-up
 * (a full temporary directory) only costs the first peer's speed: a warning, and the start goes
 * on. A stop asked for meanwhile (SIGTERM, Ctrl-C, npm gone) ends it at once, and serve stops
 * without opening its ports.
 */
import type { ServeLog } from './serve-log.js';
import type { StopReason } from './serve-signals.js';

/** Warm up `instances`; the stop's reason when one was asked for before it ended, else undefined. */
export async function warmUp(instances: number, log: ServeLog, stop: Promise<StopReason>): Promise<StopReason | undefined> {
  if (instances === 0) return undefined;
  const controller = new AbortController();
  let reason: StopReason | undefined;
  void stop.then((r) => {
    reason = r;
    controller.abort();
  });
  const { warmUpStoragePath } = await import('../services/scp/warm-up.js');
  try {
    const r = await warmUpStoragePath({ instances, signal: controller.signal });
    if (reason === undefined) log('warmed-up', `warmed up the store path: ${r.instances} instances through ${r.associations} loopback associations in ${(r.ms / 1000).toFixed(1)} s`, { instances: r.instances, associations: r.associations, ms: Math.round(r.ms) });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (reason === undefined) log('warm-up-failed', `the start-up warm-up failed (the first associations run slower, nothing else changes): ${message}`, { error: message, code: (error as { code?: string }).code ?? null }, 'warn');
  }
  return reason;
}
