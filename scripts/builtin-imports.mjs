/**
 * The CLI bundle's imports of Node's own modules, rewritten by scripts/bundle-cli.mjs (see there
 * why); a module of its own so that a test can check the rewriting without building.
 */

/**
 * One ES import of a built-in (as esbuild writes them: default, namespace or named, one per line)
 * as a `const` taken from `process.getBuiltinModule` (Node 22.3+). A built-in's exports do not
 * change, so a binding read once is the live binding. Any other form of `node:` import fails the
 * build rather than stay an import unnoticed. One line in, one line out: the source maps hold.
 */
export function builtinImports(code, file) {
  return code.replace(/^import\s+(.*?)\s+from\s+"(node:[a-z_/]+)";$/gm, (line, what, id) => {
    const get = `process.getBuiltinModule(${JSON.stringify(id)})`;
    let m = /^(?:\*\s+as\s+)?([A-Za-z_$][\w$]*)$/.exec(what);
    if (m !== null) return `const ${m[1]} = ${get};`;
    m = /^\{([^}]*)\}$/.exec(what);
    if (m !== null) {
      const names = m[1].split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
        const n = /^([A-Za-z_$][\w$]*)(?:\s+as\s+([A-Za-z_$][\w$]*))?$/.exec(s);
        if (n === null) throw new Error(`${file}: cannot rewrite the import of ${id}: ${line}`);
        return n[2] === undefined ? n[1] : `${n[1]}: ${n[2]}`;
      });
      return `const { ${names.join(', ')} } = ${get};`;
    }
    throw new Error(`${file}: cannot rewrite the import of ${id}: ${line}`);
  });
}
