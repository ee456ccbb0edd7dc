import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));

test('docs/cli.md is the CLI\'s own --help output, command by command', async () => {
  const { render } = (await import(`${root}scripts/cli-docs.mjs`)) as { render(): string };
  assert.equal(readFileSync(`${root}docs/cli.md`, 'utf8'), render(), 'run: node scripts/cli-docs.mjs');
});
