/**
 * `serve` checks its ports before it creates anything (data directory, development PKI, index):
 * a busy port must not leave a fresh PKI and an empty store behind. The check binds and releases
 * each port; the real listen follows within milliseconds.
 */
import net from 'node:net';
import { CliError, codeOf, fromSystemError } from './errors.js';

export async function ensurePortsFree(host: string, ports: ReadonlyArray<{ port: number | undefined; option: string }>): Promise<void> {
  for (const { port, option } of ports) {
    if (port === undefined || port === 0) continue;
    const server = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port, exclusive: true }, resolve);
      });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'EADDRINUSE') {
        throw new CliError(codeOf('CONNECTION'), `${option} ${port}: the port is already in use on ${host} (another program, perhaps another dicom-tls serve, listens there); stop it or choose another ${option}`, { cause: e });
      }
      if (code === 'EACCES') {
        throw new CliError(codeOf('CONNECTION'), `${option} ${port}: permission denied on ${host} (ports below 1024 need privileges); choose a port above 1023, e.g. 2762`, { cause: e });
      }
      throw fromSystemError(e);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}
