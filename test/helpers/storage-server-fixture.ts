/** A StorageServer for one test file: its store in a fresh temporary directory, listening on 127.0.0.1. */
import { join } from 'node:path';
import { StorageServer, type StorageServerConfig } from '../../src/services/scp/storage-server.js';
import { tempDir } from './dicom-data.js';

export interface StorageServerFixture {
  /** The temporary directory; the store is `dir/store`. */
  readonly dir: string;
  readonly server: StorageServer;
  readonly port: number;
  /** Closes the server and removes the directory. */
  close(): Promise<void>;
}

/** `config` without fsync (the tests need no durability) and with the store in the directory. */
export async function storageServerIn(prefix: string, config: Omit<StorageServerConfig, 'storeRoot' | 'fsync'>): Promise<StorageServerFixture> {
  const { dir, remove } = await tempDir(prefix);
  const server = await StorageServer.create({ ...config, storeRoot: join(dir, 'store'), fsync: 'none' } as StorageServerConfig);
  const { port } = await server.listen(0);
  return {
    dir, server, port,
    close: async () => {
      await server.close({ timeout: 1000 });
      await remove();
    },
  };
}
