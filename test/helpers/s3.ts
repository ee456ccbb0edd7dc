/**
 * A local S3-compatible server for tests: s3rver (npm) in a child process on a free 127.0.0.1
 * port, its objects in a temporary directory. Chosen because no S3 engine is installable here
 * that starts in seconds: Debian has no MinIO, SeaweedFS or versitygw, its radosgw (Ceph 16)
 * needs a RADOS cluster (the stand-alone dbstore backend came with Ceph 17), and moto is not
 * packaged. s3rver refuses an unknown access key id (it does not verify SigV4 signatures), and
 * serves PutObject, multipart upload, ranged GetObject and ListObjectsV2; it lacks
 * ListMultipartUploads. Credentials: S3RVER/S3RVER.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { onFreePort } from './free-port.js';

export const s3Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3Server {
  readonly endpoint: string;
  readonly port: number;
  /** Where s3rver keeps buckets and objects. */
  readonly directory: string;
  /** Store options for this server (forcePathStyle, credentials) with `bucket`. */
  options(bucket: string, prefix?: string): { bucket: string; prefix?: string; endpoint: string; region: string; forcePathStyle: true; credentials: typeof s3Credentials };
  /** Environment variables the AWS SDK's default chain reads for this server. */
  readonly env: Record<string, string>;
  /** SIGKILL the server (a service that goes away). */
  kill(): Promise<void>;
  /** Start it again on the same port and directory. */
  restart(): Promise<void>;
  /** Stop it and remove its directory. */
  close(): Promise<void>;
}

async function spawnChild(config: { port?: number; directory: string; buckets?: string[] }): Promise<{ child: ChildProcess; port: number }> {
  const script = new URL('./s3-child.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [script, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Passed on as before, and kept: "address already in use" in it makes onFreePort retry.
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); process.stderr.write(d); });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (l) => resolve((JSON.parse(l) as { port: number }).port));
    child.once('close', (code) => reject(new Error(`s3rver exited with ${code}: ${stderr}`)));
  });
  return { child, port };
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  child.kill(signal);
  await closed;
}

/** Start a server with these buckets created. */
export async function startS3Server(buckets: readonly string[] = ['dicom']): Promise<S3Server> {
  const directory = mkdtempSync(join(tmpdir(), 's3rver-'));
  // A port below the ephemeral range, not port 0: restart() binds the same port again after a
  // kill, and an ephemeral one may have been handed to another process's connect() or listen(0)
  // in the meantime.
  let { child, port } = await onFreePort((p) => spawnChild({ port: p, directory, buckets: [...buckets] }));
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    directory,
    options: (bucket, prefix) => ({ bucket, ...(prefix === undefined ? {} : { prefix }), endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3Credentials }),
    env: { AWS_ACCESS_KEY_ID: s3Credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3Credentials.secretAccessKey, AWS_REGION: 'us-east-1' },
    kill: () => stopChild(child, 'SIGKILL'),
    async restart() {
      await stopChild(child, 'SIGKILL');
      ({ child } = await spawnChild({ directory, port }));
    },
    async close() {
      await stopChild(child, 'SIGTERM');
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
