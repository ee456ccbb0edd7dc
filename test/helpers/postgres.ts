/**
 * A real PostgreSQL for tests: `initdb` into a temporary directory and `pg_ctl start` on a free
 * port of 127.0.0.1 (trust authentication, fsync off: a throw-away cluster), one per test file,
 * a fresh database per test (`createDatabase`). The binaries are Debian's `postgresql` package
 * (`/usr/lib/postgresql/<major>/bin`, the newest major), or the directory in PG_BINDIR, or the PATH.
 *
 * PostgreSQL refuses to run as root: when the tests run as root (CI, containers) the cluster is
 * owned by and run as the `postgres` system user the Debian package creates (else `nobody`),
 * through `runuser -u <user> --`.
 *
 * `postgresSkip()` is the `skip` option of a test that needs it: a message when the binaries are
 * not installed, false when they are; under CI (`CI` set) missing binaries fail instead, since
 * .ci/run installs them.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { onFreePort } from './free-port.js';

const run = promisify(execFile);

/** The directory holding initdb, pg_ctl and postgres, or undefined. */
export function postgresBinDir(): string | undefined {
  const has = (dir: string): boolean => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b)));
  const fromEnv = process.env['PG_BINDIR'];
  if (fromEnv !== undefined && has(fromEnv)) return fromEnv;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const majors = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of majors) if (has(join(debian, v, 'bin'))) return join(debian, v, 'bin');
  }
  return (process.env['PATH'] ?? '').split(delimiter).find((d) => d !== '' && has(d));
}

/** `skip` for a test that needs PostgreSQL: false when installed; a message when not; throws under CI. */
export function postgresSkip(): string | false {
  if (postgresBinDir() !== undefined) return false;
  const message = 'PostgreSQL server binaries not found (Debian: apt-get install postgresql; or set PG_BINDIR)';
  if (process.env['CI'] !== undefined && process.env['CI'] !== '') throw new Error(`${message}: CI installs them, so this is a failure`);
  return message;
}


export interface PostgresServer {
  readonly port: number;
  /** The superuser the cluster was made with (trust authentication). */
  readonly user: string;
  /** `postgres://user@127.0.0.1:port/<database>`. */
  url(database: string): string;
  /** A new empty database; returns its URL. */
  createDatabase(): Promise<string>;
  /** The server's log so far (for assertion messages). */
  log(): Promise<string>;
  /**
   * Stop every process of the cluster (SIGSTOP: the postmaster and each backend), as a host that
   * freezes: connections stay open and nothing answers. Returns the function that thaws it.
   */
  freeze(): () => void;
  /** Stop (immediate) and remove the cluster. */
  stop(): Promise<void>;
}

let databases = 0;

/**
 * Start a throw-away cluster (see the module comment). `durable`: fsync and synchronous commit
 * on, as a production server (the bench compares it with SQLite's synchronous=FULL); off by
 * default, for the tests.
 */
export async function startPostgres(options: { readonly durable?: boolean } = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error('PostgreSQL server binaries not found');
  const dir = mkdtempSync(join(tmpdir(), 'dicom-tls-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  // As root: run as the Debian `postgres` user (else nobody), owning the cluster directory.
  let as: string[] = [];
  if (userInfo().uid === 0) {
    const user = ['postgres', 'nobody'].find((u) => {
      try {
        execFileSync('id', ['-u', u], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    });
    if (user === undefined) throw new Error('running as root and no postgres or nobody user to run PostgreSQL as');
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o700);
    as = ['runuser', '-u', user, '--'];
  }
  const exec = (file: string, args: string[]) => (as.length === 0 ? run(join(bin, file), args) : run(as[0]!, [...as.slice(1), join(bin, file), ...args]));
  const superuser = 'dicomtls';
  await exec('initdb', ['-D', data, '-U', superuser, '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  const fast = options.durable === true ? [] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'];
  // A postmaster that could not bind its port says so in its log and pg_ctl fails: the log's new
  // part goes into the error, so onFreePort retries on another port.
  const port = await onFreePort(async (port) => {
    const settings = [`-p ${port}`, '-c listen_addresses=127.0.0.1', `-k ${dir}`, ...fast, '-c max_connections=300'];
    const before = existsSync(logFile) ? readFileSync(logFile, 'utf8').length : 0;
    try {
      await exec('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', '-o', settings.join(' '), 'start']);
    } catch (e) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(before) : '';
      throw new Error(`pg_ctl start on port ${port} failed: ${String(e)}\n${log}`, { cause: e });
    }
    return port;
  });
  const url = (database: string): string => `postgres://${superuser}@127.0.0.1:${port}/${database}`;
  return {
    port,
    user: superuser,
    url,
    async createDatabase() {
      const name = `t${process.pid}_${++databases}`;
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async log() {
      const { readFile } = await import('node:fs/promises');
      return readFile(logFile, 'utf8').catch(() => '');
    },
    freeze() {
      const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      // The backends are the postmaster's children (/proc/PID/stat: "pid (comm) state ppid ...").
      const children = readdirSync('/proc')
        .filter((entry) => /^\d+$/.test(entry))
        .filter((entry) => {
          try {
            const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
            return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
          } catch {
            return false;
          }
        })
        .map(Number);
      const pids = [postmaster, ...children];
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      return () => {
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGCONT');
          } catch {
            // gone
          }
        }
      };
    },
    async stop() {
      await exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
