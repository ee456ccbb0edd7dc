/**
 * `dicom-tls user add|remove|list FILE …`: the password file `serve --users FILE` checks user
 * identities against (PS3.7 D.3.3.7 types 1 and 2). Only scrypt keys are stored; the file is
 * rewritten whole (a temporary file renamed over it) with mode 0600.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { commonOptions, parse, passwordOptions } from './args.js';
import { ExitCode, fileError, usageError } from './errors.js';
import { Output } from './io.js';
import { readPassword } from './password.js';
import { checkUserName, formatPasswordFile, hashPassword, parsePasswordFile } from '../ae/user-credentials.js';
import type { CommandModule } from './command.js';

export const help = `Usage: dicom-tls user add FILE NAME [--password-file F | --password-env VAR | --ask-password | --no-password]
       dicom-tls user remove FILE NAME
       dicom-tls user list FILE

Keeps the users file of \`dicom-tls serve --users FILE\`: one user a line, its password stored only
as an scrypt key (never the password). A peer names its user with User Identity Negotiation
(PS3.7 D.3.3.7; DCMTK: storescu --user NAME --password PASSWORD).

  add        add NAME, or give it a new password; the password comes from --password-file,
             --password-env or --ask-password (asked twice on a terminal)
  --no-password
             NAME may give its user name alone (identity type 1, which proves nothing; for
             labelling associations only)
  remove     remove NAME
  list       print the user names, and which have a password

Serve reads the file at every association: changes apply to the next one.

Examples:
  dicom-tls user add /etc/dicom-tls/users alice --ask-password
  DICOM_PW=secret dicom-tls user add users bob --password-env DICOM_PW
  dicom-tls user list users`;

function load(file: string, mustExist: boolean): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !mustExist) return new Map();
    throw fileError(`cannot read the users file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e);
  }
  try {
    return parsePasswordFile(text, file);
  } catch (e) {
    throw usageError((e as Error).message);
  }
}

function save(file: string, users: ReadonlyMap<string, string>): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, formatPasswordFile(users), { mode: 0o600 });
    renameSync(tmp, file);
  } catch (e) {
    throw fileError(`cannot write the users file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e);
  }
}

export const command: CommandModule = {
  help,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...commonOptions, ...passwordOptions, 'no-password': { type: 'boolean' } });
    const out = new Output(io, values);
    const [action, file, name, ...extra] = positionals;
    if (action === undefined || !['add', 'remove', 'list'].includes(action)) throw usageError('user needs add, remove or list (see dicom-tls user --help)');
    if (file === undefined) throw usageError(`user ${action} needs the users FILE`);
    if (extra.length > 0 || (action === 'list' && name !== undefined)) throw usageError(`too many arguments for user ${action}`);
    if (action === 'list') {
      const users = load(file, true);
      if (out.json) out.document({ users: [...users].map(([user, hash]) => ({ user, password: hash !== '' })) });
      else for (const [user, hash] of users) out.line(`${user}${hash === '' ? ' (user name alone, no password)' : ''}`);
      return ExitCode.Ok;
    }
    if (name === undefined) throw usageError(`user ${action} needs a user NAME`);
    try {
      checkUserName('NAME', name);
    } catch (e) {
      throw usageError((e as Error).message);
    }
    const users = load(file, action === 'remove');
    if (action === 'remove') {
      if (!users.delete(name)) throw usageError(`${file} has no user "${name}"`);
      save(file, users);
      out.line(`removed ${name} from ${file}`);
      return ExitCode.Ok;
    }
    let hash = '';
    if (values['no-password'] === true) {
      if (values['password-file'] !== undefined || values['password-env'] !== undefined || values['ask-password'] === true) {
        throw usageError('--no-password takes no password source');
      }
    } else {
      const password = await readPassword(values, io, `Password for ${name}: `);
      if (password === undefined) throw usageError('user add needs a password: --password-file, --password-env or --ask-password (or --no-password)');
      if (password === '') throw usageError('the password is empty');
      if (values['ask-password'] === true && (await readPassword(values, io, 'Again: ')) !== password) throw usageError('the two passwords differ');
      hash = await hashPassword(password);
    }
    const existed = users.has(name);
    users.set(name, hash);
    save(file, users);
    out.line(`${existed ? 'updated' : 'added'} ${name} in ${file}${hash === '' ? ' (user name alone)' : ''}`);
    return ExitCode.Ok;
  },
};
