/**
 * The shape of one command module and the registry main.ts uses. Modules are imported only when
 * their command runs (start-up stays fast: `dicom-tls --help` loads no OpenSSL and no SQLite).
 */
import type { Io } from './io.js';

export interface CommandModule {
  /** Full help: usage, options, examples. */
  readonly help: string;
  /** Run with the arguments after the command name; resolves with the exit code. */
  run(argv: readonly string[], io: Io): Promise<number>;
}

export interface CommandEntry {
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
}

export const commands: Readonly<Record<string, CommandEntry>> = {
  serve: { summary: 'run a secure Storage + Query/Retrieve SCP (creates a development PKI on first run)', load: async () => (await import('./serve.js')).command },
  echo: { summary: 'C-ECHO a peer: is it there, does TLS work, does it accept us?', load: async () => (await import('./echo.js')).command },
  store: { summary: 'send DICOM files, folders or globs (C-STORE)', load: async () => (await import('./audited.js')).audited('store', (await import('./store.js')).command) },
  find: { summary: 'query a peer (C-FIND) with -k Tag=value keys', load: async () => (await import('./audited.js')).audited('find', (await import('./find.js')).command) },
  move: { summary: 'ask a peer to send instances to a destination AE (C-MOVE)', load: async () => (await import('./audited.js')).audited('move', (await import('./move.js')).command) },
  get: { summary: 'retrieve instances into a folder (C-GET)', load: async () => (await import('./audited.js')).audited('get', (await import('./get.js')).command) },
  diagnose: { summary: 'tell why a secure DICOM connection fails, and how to fix it', load: async () => (await import('./diagnose.js')).command },
  user: { summary: 'add, remove or list the users of serve --users (user identity passwords, scrypt)', load: async () => (await import('./user.js')).command },
  pki: { summary: 'create a CA and node certificates for DICOM TLS; inspect certificates', load: async () => (await import('./pki.js')).command },
};

/**
 * Subcommands spelled as a command and a word (`store check`): looked up before the command, so
 * `dicom-tls store check` is the consistency check, not a C-STORE to a host named "check".
 */
export const subcommands: Readonly<Record<string, Readonly<Record<string, CommandEntry>>>> = {
  store: {
    check: { summary: "compare the server's index with its stored instances; repair what a crash left", load: async () => (await import('./store-check.js')).command },
  },
};
