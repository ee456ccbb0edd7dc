/**
 * Password sources: a file (first line), an environment variable, or an interactive prompt that
 * does not echo. Never the password itself on the command line (it would show in `ps` and in the
 * shell history).
 */
import { readFileSync } from 'node:fs';
import { CliError, fileError, usageError, CliCode } from './errors.js';
import type { Io } from './io.js';

export interface PasswordSourceOptions {
  'password-file'?: string | undefined;
  'password-env'?: string | undefined;
  'ask-password'?: boolean | undefined;
}

/** The password from the one source given, or undefined when none was given. */
export async function readPassword(o: PasswordSourceOptions, io: Io, prompt = 'Password: '): Promise<string | undefined> {
  const given = [o['password-file'] !== undefined, o['password-env'] !== undefined, o['ask-password'] === true].filter(Boolean).length;
  if (given > 1) throw usageError('give only one of --password-file, --password-env and --ask-password');
  if (o['password-file'] !== undefined) {
    let text: string;
    try {
      text = readFileSync(o['password-file'], 'utf8');
    } catch (e) {
      throw fileError(`cannot read the password file ${o['password-file']}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e);
    }
    // Like `openssl -passin file:`: the first line, without its line ending.
    return text.split(/\r?\n/)[0]!;
  }
  if (o['password-env'] !== undefined) {
    const v = io.env[o['password-env']];
    if (v === undefined) throw new CliError(CliCode.password, `the environment variable ${o['password-env']} named by --password-env is not set`);
    return v;
  }
  if (o['ask-password'] === true) return askPassword(io, prompt);
  return undefined;
}

/** Prompt on the terminal with echo off (raw mode); Ctrl-C interrupts, Backspace edits. */
export function askPassword(io: Io, prompt: string): Promise<string> {
  const stdin = io.stdin as NodeJS.ReadStream;
  if (stdin.isTTY !== true || typeof stdin.setRawMode !== 'function') {
    return Promise.reject(new CliError(CliCode.password, '--ask-password needs a terminal; use --password-file or --password-env in scripts'));
  }
  return new Promise((resolve, reject) => {
    let value = '';
    const wasRaw = stdin.isRaw;
    // Echo off before the prompt shows: whatever is typed after seeing it is never echoed.
    stdin.setRawMode(true);
    io.stderr.write(prompt);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(wasRaw);
      stdin.pause();
      io.stderr.write('\n');
      if (err !== undefined) reject(err); else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new CliError(CliCode.interrupted, 'interrupted at the password prompt'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
