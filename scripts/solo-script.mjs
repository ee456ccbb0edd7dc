/**
 * A client command's own bundle (dist/cli/solo/<command>.js, an ES module) rewritten as one
 * function expression, `(async function (importMetaUrl) { "use strict"; … })`, that the entry
 * compiles with `vm.Script` and a code cache made after a run (src/cli/solo-script.ts): an ES
 * module cannot be given such a cache. The module's top-level `await`s are the async function's,
 * `import.meta.url` its parameter, its strictness the directive's. The shebang line becomes the
 * opening line, so every line keeps its number and the source map holds.
 */

/**
 * @param {string} code the bundle, after builtinImports (no ES import left)
 * @param {string} file its name, for errors
 * @returns {string}
 */
export function soloScript(code, file) {
  if (/^\s*(import|export)\b(?!\s*\()/m.test(code)) throw new Error(`${file}: an import or export statement is left; a script cannot hold one`);
  const lines = code.split('\n');
  const open = '(async function (importMetaUrl) { "use strict";';
  if (lines[0]?.startsWith('#!')) lines[0] = open;
  else lines.unshift(open);
  const body = lines.join('\n').replaceAll('import.meta.url', 'importMetaUrl');
  if (body.includes('import.meta')) throw new Error(`${file}: import.meta other than import.meta.url is used`);
  const map = body.lastIndexOf('\n//# sourceMappingURL=');
  return map === -1 ? `${body}\n})\n` : `${body.slice(0, map)}\n})${body.slice(map)}`;
}
