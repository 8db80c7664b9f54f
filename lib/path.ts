/**
 * Joining file paths without `node:path`, whose import alone costs a
 * command tens of milliseconds of start-up (it boots Deno's Node layer).
 *
 * @module
 */

/**
 * Joins path segments with `/` (which Windows accepts too), without
 * doubling separators where a segment ends or starts with one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { joinPath } from "./path.ts";
 * assert.deepEqual(joinPath("/etc/docker/", "certs.d", "localhost:5000"), "/etc/docker/certs.d/localhost:5000");
 * ```
 */
export function joinPath(first: string, ...rest: string[]): string {
  let out = first;
  for (const part of rest) {
    if (!part) continue;
    out = out === "" ? part : `${out.replace(/[\\/]+$/, "")}/${part.replace(/^[\\/]+/, "")}`;
  }
  return out;
}

/**
 * The directory part of a path (`.` when there is none), accepting `/` and
 * Windows' `\`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parentDir } from "./path.ts";
 * assert.deepEqual(parentDir("/root/.docker/config.json"), "/root/.docker");
 * assert.deepEqual(parentDir("config.json"), ".");
 * ```
 */
export function parentDir(path: string): string {
  const trimmed = path.replace(/(?<=.)[\\/]+$/, "");
  const cut = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  if (cut < 0) return ".";
  return cut === 0 ? trimmed[0] : trimmed.slice(0, cut);
}
