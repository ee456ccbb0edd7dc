/**
 * Loaded into a child process with `node --import` (test/cli/serve-start-listen.test.ts): every
 * net.Server that starts listening appends its port to the file named by LISTEN_LOG, so a test
 * sees each listening socket the program ever opened, however briefly.
 */
import { appendFileSync } from 'node:fs';
import net from 'node:net';

const file = process.env['LISTEN_LOG'];
if (file !== undefined) {
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    this.once('listening', () => {
      const a = this.address();
      if (a !== null && typeof a === 'object') appendFileSync(file, `${a.port}\n`);
    });
    return (listen as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof net.Server.prototype.listen;
}
