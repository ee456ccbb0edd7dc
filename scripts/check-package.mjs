#!/usr/bin/env node
/**
 * Checks the package a user would install: `npm pack`, then
 *  1. the tarball's contents: LICENSE, README, the library and its types, the CLI; no tests or
 *     benchmarks; every source map's `sources` resolves to a file inside the tarball;
 *  2. a fresh TypeScript project installs the tarball from the file (with --ignore-scripts: no
 *     native build, no download at install) and type-checks a consumer of the public API with
 *     `strict` and `skipLibCheck: false` against the oldest supported Node's types (@types/node
 *     of the `engines` major), so types that only exist in our devDependencies cannot hide;
 *  3. the compiled consumer runs: a TLS association with certificates made by the package, a
 *     plain one, and the installed `dicom-tls` executable.
 *
 * Needs the npm registry (or npm's cache) for typescript and @types/node only.
 *   node scripts/check-package.mjs [--keep]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Uses the public API the way the README does: types and values, TLS and plain TCP. */
const CONSUMER = `import {
  DicomClient, DicomServer, DicomError, SecureContext, Status, UnsupportedRuntimeError, TlsHandshakeError,
  createCertificateAuthority, createNodeCertificate, opensslVersion, x509ErrorName,
  type SecureContextOptions, type VerifyCallback, type DicomServerOptions,
} from 'dicom-tls';

const ca = createCertificateAuthority({ subject: [['CN', 'Consumer CA']] });
const node = createNodeCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
const verifyCallback: VerifyCallback = (ok, _certificateString, error) => {
  if (ok === 0) console.error(x509ErrorName(error));
  return ok;
};
const common: Omit<SecureContextOptions, 'role'> = {
  ca: [Buffer.from(ca.certPem)],
  identity: { cert: Buffer.from(node.certPem), key: Buffer.from(node.keyPem) },
};
const serverOptions: DicomServerOptions = { aeTitle: 'CONSUMER-SCP', tls: new SecureContext({ role: 'server', ...common }) };

async function echo(tls: boolean): Promise<string> {
  const server = new DicomServer(tls ? serverOptions : { aeTitle: 'CONSUMER-SCP' });
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    const client = await DicomClient.associate({
      host: '127.0.0.1', port, callingAeTitle: 'CONSUMER', calledAeTitle: 'CONSUMER-SCP',
      ...(tls ? { tls: new SecureContext({ role: 'client', ...common, verifyCallback }) } : {}),
    });
    const status = (await client.echo()).status;
    const protocol = client.tls?.protocol;
    await client.release();
    return \`\${protocol ?? 'plain'} \${status === Status.Success ? 'success' : String(status)}\`;
  } catch (e) {
    if (e instanceof TlsHandshakeError || e instanceof UnsupportedRuntimeError || e instanceof DicomError) return \`\${e.code}: \${e.message}\`;
    throw e;
  } finally {
    await server.close();
  }
}

console.log(\`tls \${await echo(true)}; \${await echo(false)}; \${opensslVersion()}\`);
`;

const root = fileURLToPath(new URL('..', import.meta.url));
const keep = process.argv.includes('--keep');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const failures = [];
const fail = (m) => failures.push(m);
const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

const work = mkdtempSync(join(tmpdir(), 'dicom-tls-package-'));
try {
  // ---- 1. pack and look inside ---------------------------------------------------------------
  const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', work], root));
  const tarball = join(work, packed.filename);
  const files = new Set(packed.files.map((f) => f.path));
  console.log(`packed ${packed.filename}: ${packed.files.length} files, ${(packed.size / 1024).toFixed(0)} kB`);
  for (const required of ['LICENSE', 'README.md', 'package.json', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/cli/dicom-tls.js']) {
    if (!files.has(required)) fail(`the package lacks ${required}`);
  }
  for (const f of files) {
    if (/^dist\/(test|bench|examples)\//.test(f)) fail(`the package ships ${f} (tests, benchmarks and examples stay out)`);
  }
  if (!/^MIT License/.test(readFileSync(join(root, 'LICENSE'), 'utf8')) || pkg.license !== 'MIT') {
    fail('LICENSE and package.json "license" disagree (both must say MIT)');
  }
  // Every map points at files the package holds (the TypeScript sources are shipped for that).
  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
  let maps = 0;
  for (const f of files) {
    if (!f.endsWith('.map')) continue;
    maps++;
    const map = JSON.parse(readFileSync(join(unpacked, 'package', f), 'utf8'));
    for (const source of map.sources) {
      const target = posix.normalize(posix.join(posix.dirname(f), map.sourceRoot ?? '', source));
      if (!files.has(target)) fail(`${f} points at ${source}, which the package does not ship`);
    }
  }
  console.log(`${maps} source maps, every source shipped: ${failures.length === 0}`);

  // ---- 2. a consumer project, strict, skipLibCheck off --------------------------------------
  const consumer = join(work, 'consumer');
  mkdirSync(join(consumer, 'src'), { recursive: true });
  const nodeMajor = /(\d+)/.exec(pkg.engines.node)[1];
  writeFileSync(join(consumer, 'package.json'), `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`);
  writeFileSync(join(consumer, 'tsconfig.json'), `${JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false,
      noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, types: ['node'], outDir: 'dist', rootDir: 'src',
    },
    include: ['src'],
  }, null, 2)}\n`);
  writeFileSync(join(consumer, 'src', 'consumer.ts'), CONSUMER);
  // Examples are written for users: they must build against the package too.
  for (const example of ['verify-callback.ts', 'client-certificate-callback.ts', 'tls-diagnostics.ts']) {
    const text = readFileSync(join(root, 'examples', example), 'utf8').replaceAll("'../src/index.js'", "'dicom-tls'");
    writeFileSync(join(consumer, 'src', example), text);
  }
  const typescript = pkg.devDependencies.typescript;
  npm(['install', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline', '--loglevel=error',
    tarball, `typescript@${typescript}`, `@types/node@${nodeMajor}`], consumer);
  try {
    execFileSync(process.execPath, [join(consumer, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', consumer], { encoding: 'utf8', stdio: 'pipe' });
    console.log(`the consumer type-checks (strict, skipLibCheck: false, typescript ${typescript}, @types/node ${nodeMajor})`);
  } catch (e) {
    fail(`the consumer does not type-check against the package:\n${e.stdout}${e.stderr}`);
  }

  // ---- 3. it runs ------------------------------------------------------------------------------
  if (failures.length === 0) {
    const out = execFileSync(process.execPath, [join(consumer, 'dist', 'consumer.js')], { cwd: consumer, encoding: 'utf8' }).trim();
    console.log(`the consumer runs: ${out}`);
    if (!/^tls TLSv1\.[23] success; plain success; OpenSSL \d/.test(out)) fail(`unexpected consumer output: ${out}`);
    const version = execFileSync(join(consumer, 'node_modules', '.bin', 'dicom-tls'), ['--version'], { encoding: 'utf8' }).trim();
    if (version !== pkg.version) fail(`the installed dicom-tls --version says ${version}, not ${pkg.version}`);
    else console.log(`the installed executable: dicom-tls --version = ${version}`);
  }
} finally {
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
if (failures.length > 0) {
  for (const f of failures) console.error(`FAIL ${f}`);
  process.exit(1);
}
console.log('package check passed');
