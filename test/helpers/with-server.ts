import { DicomServer, type DicomServerOptions } from '../../src/ae/server.js';

/** A DicomServer on a free loopback port for the length of `fn`, closed afterwards. */
export async function withServer(options: DicomServerOptions, fn: (port: number, server: DicomServer) => Promise<void>): Promise<void> {
  const server = new DicomServer(options);
  const { port } = await server.listen(0);
  try {
    await fn(port, server);
  } finally {
    await server.close({ timeout: 1000 });
  }
}
