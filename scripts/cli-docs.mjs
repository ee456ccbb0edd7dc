#!/usr/bin/env node
// Writes docs/cli.md from the built CLI's own --help texts, so the page says exactly what the
// program says. `--check` exits 1 when docs/cli.md differs from what would be written.
// Run after `npm run build`: node scripts/cli-docs.mjs [--check]
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = `${root}dist/cli/dicom-tls.js`;
const page = `${root}docs/cli.md`;
const commands = ['serve', 'echo', 'store', 'find', 'move', 'get', 'diagnose', 'pki'];
const subcommands = { store: ['check'] };

function help(args) {
  return execFileSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } }).trimEnd();
}

export function render() {
  const parts = [
    '# The dicom-tls command line',
    '',
    'One program, `dicom-tls`, with a subcommand per job; each is a thin layer over the library.',
    'This page is generated from the program\'s own `--help` texts (`node scripts/cli-docs.mjs`),',
    'and a test fails when the two differ.',
    '',
    '```text',
    help(['--help']),
    '```',
  ];
  for (const c of commands) {
    parts.push('', `## ${c}`, '', '```text', help([c, '--help']), '```');
    for (const sub of subcommands[c] ?? []) parts.push('', `## ${c} ${sub}`, '', '```text', help([c, sub, '--help']), '```');
  }
  parts.push('', '## DCMTK spellings', '', '```text', help(['help', 'dcmtk']), '```');
  return `${parts.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = render();
  if (process.argv.includes('--check')) {
    const same = readFileSync(page, 'utf8') === text;
    if (!same) console.log('docs/cli.md is out of date: run node scripts/cli-docs.mjs');
    process.exitCode = same ? 0 : 1;
  } else {
    writeFileSync(page, text);
  }
}
