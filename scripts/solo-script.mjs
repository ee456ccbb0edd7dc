/**
 * A client command's own bundle (dist/cli/solo/<command>.js, an ES module) rewritten as one
 * function expression, `(async function (importMetaUrl) { "use strict"; … })`, that the entry
 * compiles with `vm.Script` and a code cache made after a run (src/cli/solo-script.ts): an ES
 * module cannot be given such a cache. The module's top-level `await`s are the async function's,
 * `import.meta.url` its parameter, its strictness the directive's. The shebang line becomes the
 * opening line, so every line keeps its number and the source map holds.
 *
 * The packages the bundle leaves outside (serve's pino, ajv, prom-client, jsonc-parser; pg and the
 * AWS SDK loaded on demand) cannot be imported by a script: each import of a package, static or
 * dynamic, becomes a call of the function's second parameter, `importPackage`, which the entry (an
 * ES module of the same package, so resolving from the same node_modules) makes as
 * `(specifier) => import(specifier)`. The static ones become `await`s on the opening line, in
 * their order, before any code (an ES import is bound before the module runs, and esbuild writes
 * some of them beside the module that uses them, after code that may call into it); their own
 * lines are left empty, so every line keeps its number.
 */

/**
 * @param {string} code the bundle, after builtinImports (no ES import left)
 * @param {string} file its name, for errors
 * @returns {string}
 */
export function soloScript(code, file) {
  const imported = packageImports(code, file);
  code = imported.code;
  if (/^\s*(import|export)\b(?!\s*\()/m.test(code)) throw new Error(`${file}: an import or export statement is left; a script cannot hold one`);
  const lines = code.split('\n');
  const open = ['(async function (importMetaUrl, importPackage) { "use strict";', ...imported.statics].join(' ');
  if (lines[0]?.startsWith('#!')) lines[0] = open;
  else lines.unshift(open);
  const body = lines.join('\n').replaceAll('import.meta.url', 'importMetaUrl');
  if (body.includes('import.meta')) throw new Error(`${file}: import.meta other than import.meta.url is used`);
  const map = body.lastIndexOf('\n//# sourceMappingURL=');
  return map === -1 ? `${body}\n})\n` : `${body.slice(0, map)}\n})${body.slice(map)}`;
}

/** A package's name as an import names it: not relative, not absolute, not a built-in. */
const PACKAGE = String.raw`(?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*(?:\/[\w./-]*)?`;

/**
 * Imports of packages (see above) as calls of `importPackage`: the dynamic ones in place, the
 * static ones taken out (their lines left empty) and returned as statements, in order. Any other
 * form of a package import is left as it is, and then fails the check for import statements.
 * @param {string} code
 * @param {string} file
 * @returns {{ code: string, statics: string[] }}
 */
export function packageImports(code, file) {
  const statics = [];
  const rest = code.replace(new RegExp(String.raw`^import\s+(.*?)\s+from\s+"(${PACKAGE})";$`, 'gm'), (line, what, id) => {
    statics.push(importStatement(what, id, line, file));
    return '';
  });
  return { code: rest.replace(new RegExp(String.raw`\bimport\(\s*"(${PACKAGE})"\s*\)`, 'g'), (_, id) => `importPackage(${JSON.stringify(id)})`), statics };
}

/** `import <what> from "<id>"` as a `const` awaiting `importPackage`. */
function importStatement(what, id, line, file) {
  const get = `await importPackage(${JSON.stringify(id)})`;
  let m = /^\*\s+as\s+([A-Za-z_$][\w$]*)$/.exec(what);
  if (m !== null) return `const ${m[1]} = ${get};`;
  m = /^([A-Za-z_$][\w$]*)$/.exec(what);
  if (m !== null) return `const { default: ${m[1]} } = ${get};`;
  m = /^\{([^}]*)\}$/.exec(what);
  if (m === null) throw new Error(`${file}: cannot rewrite the import of ${id}: ${line}`);
  const names = m[1].split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const n = /^([A-Za-z_$][\w$]*)(?:\s+as\s+([A-Za-z_$][\w$]*))?$/.exec(s);
    if (n === null) throw new Error(`${file}: cannot rewrite the import of ${id}: ${line}`);
    return n[2] === undefined ? n[1] : `${n[1]}: ${n[2]}`;
  });
  return `const { ${names.join(', ')} } = ${get};`;
}
