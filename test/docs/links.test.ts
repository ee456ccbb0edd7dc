// Every relative link in docs/*.md points at a file that exists and, with a #fragment, at a
// heading of that page (GitHub's anchor rules), so renamed sections cannot leave dead links.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const docs = join(root, 'docs');

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

test('slug follows GitHub for the headings the docs use', () => {
  assert.equal(slug('Why not `node:tls`'), 'why-not-nodetls');
  assert.equal(slug('1. Verify'), '1-verify');
  assert.equal(slug('`SecureContext`'), 'securecontext');
  assert.equal(slug('Host name and IP check'), 'host-name-and-ip-check');
});

test('relative links in docs/ resolve to existing files and headings', () => {
  const pages = readdirSync(docs).filter((f) => f.endsWith('.md'));
  assert.ok(pages.length >= 5, `expected the docs pages, found ${pages.join(', ')}`);
  const dead: string[] = [];
  for (const page of pages) {
    const file = join(docs, page);
    const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue; // http:, https:, mailto:
      const [path, fragment] = target.split('#') as [string, string | undefined];
      const resolved = path === '' ? file : resolve(dirname(file), path);
      if (!existsSync(resolved)) { dead.push(`${page}: ${target} (no such file)`); continue; }
      if (fragment !== undefined && resolved.endsWith('.md') && !anchorsOf(resolved).has(fragment)) {
        dead.push(`${page}: ${target} (no such heading)`);
      }
    }
  }
  assert.deepEqual(dead, []);
});
