/** Validate audit messages against the repository's DICOM audit message schema with xmllint (libxml2). */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** schema/dicom-audit-message.rng (tests run from dist/test/…). */
export const AUDIT_SCHEMA = fileURLToPath(new URL('../../../schema/dicom-audit-message.rng', import.meta.url));

/** Runs xmllint on every document; resolves with its verdict per document. */
export async function xmllintAudit(documents: readonly string[]): Promise<{ ok: boolean; output: string }[]> {
  const dir = await mkdtemp(join(tmpdir(), 'audit-xml-'));
  try {
    const results: { ok: boolean; output: string }[] = [];
    for (let i = 0; i < documents.length; i++) {
      const file = join(dir, `${i}.xml`);
      await writeFile(file, documents[i]!);
      results.push(await new Promise((resolve) => {
        execFile('xmllint', ['--noout', '--relaxng', AUDIT_SCHEMA, file], (error, stdout, stderr) => resolve({ ok: error === null, output: `${stdout}${stderr}` }));
      }));
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Asserts that every document validates; the message names the first that does not. */
export async function assertSchemaValid(documents: readonly string[]): Promise<void> {
  const results = await xmllintAudit(documents);
  const bad = results.findIndex((r) => !r.ok);
  if (bad >= 0) throw new Error(`audit message ${bad} is not valid against ${AUDIT_SCHEMA}:\n${results[bad]!.output}\n${documents[bad]}`);
}
