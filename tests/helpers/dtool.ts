/**
 * Runs the dtool CLI as a user would: a separate `deno run` process of
 * cli.ts with the permissions of `deno task dtool`.
 */
import { PERMISSIONS, V8_FLAGS } from "../../scripts/compile.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const PERMS = [...V8_FLAGS, ...PERMISSIONS];

/** The outcome of one dtool run. */
export interface DtoolRun {
  code: number;
  stdout: string;
  stdoutBytes: Uint8Array;
  stderr: string;
}

/** Runs `dtool ARGS`; never throws on a non-zero exit. */
export async function dtool(
  args: string[],
  opts: { env?: Record<string, string> } = {},
): Promise<DtoolRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...PERMS, CLI, ...args],
    env: { NO_COLOR: "1", ...opts.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stdoutBytes: out.stdout,
    stderr: dec.decode(out.stderr),
  };
}

/** Runs dtool and throws with its stderr unless it exits 0. */
export async function dtoolOk(
  args: string[],
  opts: { env?: Record<string, string> } = {},
): Promise<DtoolRun> {
  const r = await dtool(args, opts);
  if (r.code !== 0) {
    throw new Error(`dtool ${args.join(" ")} exited ${r.code}:\n${r.stderr}`);
  }
  return r;
}

/** Spawns dtool with piped stderr, for tests that act while it runs. */
export function spawnDtool(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...PERMS, CLI, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Parses `--progress=json` output into events. */
export function jsonEvents(stderr: string): Record<string, unknown>[] {
  return stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

/** sha256 of bytes as `sha256:<hex>`. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return "sha256:" + [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
