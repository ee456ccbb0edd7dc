#!/usr/bin/env node
/**
 * The first step of `npm run build`: refuses to build inside a test run. The tests run the
 * program from this checkout's dist/ while others run beside them (`--test-concurrency`); a build
 * started by a test (through `npm pack`, `npm install` of this folder, or a first `npx dicom-tls`
 * here, each of which runs the `prepare` script) rewrites dist/ under them, and a command started
 * meanwhile fails at random to find its module. Failing here makes the test that started the
 * build fail, with this message, instead.
 *
 * Node's test runner sets NODE_TEST_CONTEXT in each test file's process; the processes a test
 * starts inherit it.
 */
if (process.env.NODE_TEST_CONTEXT !== undefined && process.env.NODE_TEST_CONTEXT !== '') {
  process.stderr.write('error: `npm run build` started inside a test run: a test must never rebuild the dist/ the other tests are running from (build before `node --test`; `npm test` does)\n');
  process.exit(1);
}
