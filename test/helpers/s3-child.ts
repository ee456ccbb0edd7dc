/**
 * Runs s3rver (an S3-compatible server written for tests) in its own process, so a test can kill
 * it mid-upload. Argument: JSON { port, directory, buckets }. Prints {"port": n} once it listens.
 */
import { createRequire } from 'node:module';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
}
const S3rver = createRequire(import.meta.url)('s3rver') as new (options: Record<string, unknown>) => S3rverInstance;

const config = JSON.parse(process.argv[2] ?? '{}') as { port?: number; directory: string; buckets?: string[] };
const server = new S3rver({
  address: '127.0.0.1',
  port: config.port ?? 0,
  directory: config.directory,
  silent: true,
  // Path-style requests only: no virtual-host bucket lookup from the Host header.
  vhostBuckets: false,
  configureBuckets: (config.buckets ?? []).map((name) => ({ name })),
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.on('SIGTERM', () => process.exit(0));
