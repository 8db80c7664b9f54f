/**
 * `deno task compile`: one self-contained `dtool` executable per target in
 * `dist/` (or `--out-dir DIR`), named `dtool-<target>`. `deno compile` downloads a runtime base
 * (denort) per target; where that download is impossible this script says so
 * in one line and exits non-zero instead of printing Deno's backtrace.
 *
 * Usage: deno task compile [--out-dir DIR] [TARGET...]
 *
 * @module
 */

/** Every target dtool ships for. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** The permissions the binary runs with: the same as `deno task dtool`. */
export const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
];

/**
 * A small young generation: chunks of streamed blobs are collected sooner,
 * which keeps peak memory of a 1 GiB copy near 75 MiB instead of 95 MiB at
 * no measured cost in speed.
 */
export const V8_FLAGS = ["--v8-flags=--max-semi-space-size=1"];

/** The file name of the executable for a target. */
export function binaryName(target: string): string {
  return `dtool-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/**
 * The `deno compile` arguments for one target; run them from the
 * repository root.
 *
 * @example
 * ```ts
 * import { compileArgs } from "./compile.ts";
 * const args = compileArgs("x86_64-apple-darwin", "/tmp/out");
 * if (args.at(-1) !== "cli.ts" || !args.includes("/tmp/out/dtool-x86_64-apple-darwin")) {
 *   throw new Error(args.join(" "));
 * }
 * ```
 */
export function compileArgs(target: string, outDir = "dist"): string[] {
  return [
    "compile",
    ...PERMISSIONS,
    ...V8_FLAGS,
    "--target",
    target,
    "--output",
    `${outDir.replace(/[\\/]+$/, "")}/${binaryName(target)}`,
    "cli.ts",
  ];
}

/**
 * One line explaining a failed compile, recognising a failed download of the
 * runtime base (and only that: a failed npm download is another failure).
 *
 * @example
 * ```ts
 * import { explainFailure } from "./compile.ts";
 * const line = explainFailure("x86_64-pc-windows-msvc", "error: x\n    0: Setting up base binary.");
 * if (!line.includes("cannot download the Deno runtime base")) throw new Error(line);
 * ```
 */
export function explainFailure(target: string, stderr: string): string {
  const url = stderr.match(/https:\/\/dl\.deno\.land\/\S+?\.zip/)?.[0];
  if (/Setting up base binary|denort-/i.test(stderr)) {
    return `compile ${target}: cannot download the Deno runtime base${url ? ` (${url})` : ""}: ` +
      "this machine cannot reach Deno's release downloads; run on a machine with internet " +
      "access, or point DENORT_BIN at a denort binary for this target";
  }
  // deno-lint-ignore no-control-regex
  const first = stderr.split("\n").find((l) => /error/i.test(l))?.replace(/\x1b\[[0-9;]*m/g, "");
  return `compile ${target}: deno compile failed: ${first?.trim() ?? "unknown error"}`;
}

/** What the command line asks for. */
export interface CompileRequest {
  /** Where the executables go. */
  outDir: string;
  /** Targets to build. */
  targets: string[];
}

/**
 * Reads `[--out-dir DIR] [TARGET...]`; throws a one-line usage error.
 *
 * @example
 * ```ts
 * import { parseCompileArgs } from "./compile.ts";
 * const r = parseCompileArgs(["--out-dir", "/tmp/x", "aarch64-apple-darwin"]);
 * if (r.outDir !== "/tmp/x" || r.targets.length !== 1) throw new Error(JSON.stringify(r));
 * ```
 */
export function parseCompileArgs(args: string[]): CompileRequest {
  let outDir = "dist";
  const targets: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--out-dir") {
      outDir = args[++i];
      if (!outDir) throw new Error("compile: --out-dir needs a directory");
    } else if (args[i].startsWith("--out-dir=")) outDir = args[i].slice("--out-dir=".length);
    else targets.push(args[i]);
  }
  const unknown = targets.filter((t) => !(TARGETS as readonly string[]).includes(t));
  if (unknown.length) {
    throw new Error(`compile: unknown target ${unknown.join(", ")}; known: ${TARGETS.join(", ")}`);
  }
  return { outDir, targets: targets.length ? targets : [...TARGETS] };
}

if (import.meta.main) {
  let req: CompileRequest;
  try {
    req = parseCompileArgs(Deno.args);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  await Deno.mkdir(req.outDir, { recursive: true });
  for (const target of req.targets) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: compileArgs(target, req.outDir),
      cwd: new URL("..", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      console.error(explainFailure(target, new TextDecoder().decode(out.stderr)));
      Deno.exit(1);
    }
    console.error(`compiled ${req.outDir}/${binaryName(target)}`);
  }
}
