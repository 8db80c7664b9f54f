/**
 * `deno task bundle`: `dist/dtool.js`, one self-contained JavaScript file
 * (npm dependencies included) that runs with `deno run -A dtool.js …` from
 * any folder, offline, with no `node_modules` and no `deno.json`.
 *
 * `deno bundle` (esbuild) gives CommonJS code such as commander a `require`
 * made with `createRequire` from `node:module`, imported at the top of the
 * file: that import alone boots Deno's Node layer, ~30 ms on every start.
 * This script swaps it for a `require` that loads the built-in module when
 * commander first asks for one, so commands that never load commander
 * never pay for it.
 *
 * Usage: deno task bundle [--out-dir DIR]   (default: dist)
 *
 * @module
 */

/**
 * esbuild's CommonJS `require` shim for built-ins, formatted or minified:
 * `import { createRequire as __deno_internal_createRequire } from "node:module";`
 * then `var <name> = __deno_internal_createRequire(import.meta.url);`.
 */
const REQUIRE_SHIM =
  /import\s*\{\s*createRequire as __deno_internal_createRequire\s*\}\s*from\s*"node:module";\s*var ([\w$]+)\s*=\s*__deno_internal_createRequire\(import\.meta\.url\);\n?/g;

/** The `deno bundle` arguments that write `outFile` from `cli.ts`, minified. */
export function bundleArgs(outFile: string): string[] {
  return ["bundle", "--quiet", "--minify", "--platform", "deno", "--output", outFile, "cli.ts"];
}

/**
 * Makes the bundle's `require` lazy: built-in modules only, which is all the
 * bundled npm code asks for, loaded when first required. Throws when the
 * bundler's output no longer has the expected shape, rather than shipping a
 * slow file silently.
 *
 * @example
 * ```ts
 * import { lazyRequire } from "./bundle.ts";
 * const shim = 'import{createRequire as __deno_internal_createRequire} from "node:module";' +
 *   "var r=__deno_internal_createRequire(import.meta.url);";
 * const out = lazyRequire(`var a=1;${shim}var b=r("node:fs");`);
 * if (!out.includes("var r = (id) => process.getBuiltinModule(id);") || out.includes("node:module")) {
 *   throw new Error(out);
 * }
 * ```
 */
export function lazyRequire(code: string): string {
  const count = [...code.matchAll(REQUIRE_SHIM)].length;
  if (count > 1) throw new Error("bundle: the node:module require appears more than once");
  if (count === 0) {
    if (/from\s*"node:module"/.test(code)) {
      throw new Error("bundle: deno bundle's require shim changed; update scripts/bundle.ts");
    }
    return code;
  }
  return code.replace(
    REQUIRE_SHIM,
    (_all, name: string) => `var ${name} = (id) => process.getBuiltinModule(id);\n`,
  );
}

/**
 * An import declaration of a Node built-in, at a statement boundary, formatted
 * (`import fs from "node:fs";`) or minified (`;import{a as b}from"node:fs";`).
 */
const NODE_IMPORT = /(?<=^|[;}\n])[ \t]*import\s*([^;"'()]*?)\s*from\s*"(node:[^"]+)";?/g;

/**
 * Turns the bundle's top-level imports of Node built-ins (which npm code
 * such as node-tar brings, and which esbuild hoists to the top even when
 * only a lazily loaded command uses them) into bindings made on first use:
 * each imported name becomes a getter on `globalThis` that loads the
 * built-in with `process.getBuiltinModule` when code first reads it. The
 * import declarations go, so the names resolve to those getters; a name the
 * bundle declares itself would have clashed with the import already.
 *
 * @example
 * ```ts
 * import { eagerNodeImports, lazyNodeImports } from "./bundle.ts";
 * const out = lazyNodeImports('import fs, { join as j } from "node:path";\nj("a", "b");\n');
 * if (eagerNodeImports(out).length !== 0 || !out.includes('"j", "node:path", "join"')) {
 *   throw new Error(out);
 * }
 * const min = lazyNodeImports('var a=1;import*as z from"node:zlib";import{x as y}from"node:fs";');
 * if (eagerNodeImports(min).length !== 0 || !min.includes('"y", "node:fs", "x"')) {
 *   throw new Error(min);
 * }
 * ```
 */
export function lazyNodeImports(code: string): string {
  const bindings: string[] = [];
  const out = code.replace(NODE_IMPORT, (_all, clause: string, id: string) => {
    const named = clause.match(/\{([^}]*)\}/);
    const rest = clause.replace(/\{[^}]*\}/, "").split(",").map((p) => p.trim()).filter(Boolean);
    for (const part of rest) {
      const ns = part.match(/^\*\s*as\s+(\S+)$/);
      bindings.push(JSON.stringify(ns ? ns[1] : part) + `, "${id}"`);
    }
    for (const spec of named ? named[1].split(",").map((p) => p.trim()).filter(Boolean) : []) {
      const [name, local = name] = spec.split(/\s+as\s+/).map((p) => p.trim());
      bindings.push(`${JSON.stringify(local)}, "${id}", ${JSON.stringify(name)}`);
    }
    return "";
  });
  if (bindings.length === 0) return code;
  const prelude =
    "const __lazyNode = (name, id, pick) => Object.defineProperty(globalThis, name, " +
    "{ configurable: true, get() { const m = process.getBuiltinModule(id); " +
    "const v = pick === undefined ? m : m[pick]; " +
    "Object.defineProperty(globalThis, name, { value: v, configurable: true, writable: true }); " +
    "return v; } });\n" + bindings.map((b) => `__lazyNode(${b});\n`).join("");
  // Below the shebang, which must stay the first line.
  const shebang = out.startsWith("#!") ? out.slice(0, out.indexOf("\n") + 1) : "";
  return shebang + prelude + out.slice(shebang.length);
}

/** Any static `import`/`export … from` of a Node built-in, side-effect imports included. */
const ANY_NODE_STATIC = /(?<=^|[;}\n])[ \t]*(?:import|export)\b[^;"'()]*?["'](node:[^"']+)["']/g;

/**
 * Node modules the bundle may import at its top: none, so that start-up stays fast. Forms that
 * {@linkcode lazyNodeImports} does not rewrite (`export … from`, `import "node:x"`) count too,
 * so a bundler change that brings them fails the build instead of slowing every start.
 *
 * @example
 * ```ts
 * import { eagerNodeImports } from "./bundle.ts";
 * const found = eagerNodeImports('var a;import"node:fs";export{b}from"node:path";');
 * if (found.join() !== "node:fs,node:path") throw new Error(found.join());
 * ```
 */
export function eagerNodeImports(code: string): string[] {
  return [...code.matchAll(ANY_NODE_STATIC)].map((m) => m[1]);
}

/** Builds the bundle into `outDir` and returns the file's path. */
export async function buildBundle(outDir: string): Promise<string> {
  const root = new URL("..", import.meta.url);
  const outFile = `${outDir.replace(/[\\/]+$/, "")}/dtool.js`;
  await Deno.mkdir(outDir, { recursive: true });
  const out = await new Deno.Command(Deno.execPath(), {
    args: bundleArgs(outFile),
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    // deno-lint-ignore no-control-regex
    const text = new TextDecoder().decode(out.stderr).replace(/\x1b\[[0-9;]*m/g, "").trim();
    throw new Error(`bundle: deno bundle failed: ${text.split("\n").find(Boolean) ?? "no output"}`);
  }
  const code = lazyNodeImports(lazyRequire(await Deno.readTextFile(outFile)));
  const eager = eagerNodeImports(code);
  if (eager.length) throw new Error(`bundle: imports ${eager.join(", ")} at start-up`);
  await Deno.writeTextFile(outFile, code);
  return outFile;
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--out-dir");
  const outDir = i >= 0 ? Deno.args[i + 1] : "dist";
  if (!outDir || Deno.args.length !== (i >= 0 ? 2 : 0)) {
    console.error("usage: deno task bundle [--out-dir DIR]");
    Deno.exit(2);
  }
  try {
    console.error(`bundled ${await buildBundle(outDir)}`);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
}
