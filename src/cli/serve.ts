import { unavailableError } from './errors.js';
import { help } from './serve-help.js';
import type { CommandModule } from './command.js';

export const command: CommandModule = {
  help,
  run() { return Promise.reject(unavailableError('serve')); },
};
