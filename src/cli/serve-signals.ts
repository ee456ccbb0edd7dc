/**
 * How `serve` stops: SIGINT/SIGTERM, or — when it was started through npm (`npm start`,
 * `npx dicom-tls serve`) — its parent going away. npm hands the signal to the shell that runs the
 * script, and a shell does not always pass it on: without this, the server would live on as an
 * orphan holding the port. A server started any other way (systemd, nohup, a terminal) is never
 * stopped by its parent's exit.
 */
import type { ServeLog } from './serve-log.js';

export type StopReason = NodeJS.Signals | 'parent-exited';

/** Resolves with the first stop request. Listen early: a Ctrl-C during start-up also ends in the clean stop. */
export function stopRequested(env: NodeJS.ProcessEnv): Promise<StopReason> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve).once('SIGTERM', resolve);
    if (env.npm_lifecycle_event === undefined) return;
    const parent = process.ppid;
    const timer = setInterval(() => {
      if (process.ppid !== parent) { clearInterval(timer); resolve('parent-exited'); }
    }, 500);
    timer.unref();
  });
}

/**
 * Node's default for SIGHUP ends the process, and the certificate reloader only listens for it
 * once the server is up: a `systemctl reload` during the start (the warm-up's seconds above all)
 * would kill the server, and systemd counts SIGHUP as a clean exit, so Restart=on-failure would
 * not bring it back. Held from the start instead: `release()` stops holding and says whether
 * one came, to be reloaded once the reloader runs (the files may have changed since they were read).
 */
export function holdReloads(): () => boolean {
  let came = false;
  const hold = (): void => { came = true; };
  process.on('SIGHUP', hold);
  return () => {
    process.off('SIGHUP', hold);
    return came;
  };
}

export interface Stoppable { close(options: { timeout: number }): Promise<void> }

/**
 * Refuse new associations, let those running finish for up to `timeoutMs`, then abort the rest
 * (A-ABORT). `open()` counts the running associations (for the log line).
 */
export async function gracefulStop(servers: readonly Stoppable[], timeoutMs: number, open: () => number, log: ServeLog): Promise<void> {
  const timer = setTimeout(() => {
    const n = open();
    if (n > 0) log('stop-timeout', `stop timeout (${timeoutMs / 1000} s) reached: aborting ${n} running association${n === 1 ? '' : 's'}`, { running: n, stopTimeoutSeconds: timeoutMs / 1000 }, 'warn');
  }, timeoutMs);
  try {
    await Promise.all(servers.map((srv) => srv.close({ timeout: timeoutMs })));
  } finally {
    clearTimeout(timer);
  }
}
