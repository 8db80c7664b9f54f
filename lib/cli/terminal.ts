/**
 * What every progress renderer draws with: stderr writes, byte counts,
 * short digests, bars, and lines cut to the terminal's width (a wrapped line
 * would break the cursor arithmetic of redrawn bars).
 *
 * @module
 */

const encoder = new TextEncoder();

/** Writes text to stderr at once (progress must not wait behind buffered output). */
export const writeStderr = (s: string): void => {
  Deno.stderr.writeSync(encoder.encode(s));
};

/**
 * Bytes in binary units with one decimal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "./terminal.ts";
 * assert.deepEqual(formatBytes(1536), "1.5 KiB");
 * ```
 */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1023.95 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/**
 * A digest as 12 hex digits; anything else (a reference, for a root) as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shortDigest } from "./terminal.ts";
 * assert.deepEqual(shortDigest("sha256:" + "ab".repeat(32)), "abababababab");
 * ```
 */
export function shortDigest(digest: string | undefined): string {
  if (digest === undefined) return "";
  return /^sha(256|512):/.test(digest) ? digest.replace(/^sha\d+:/, "").slice(0, 12) : digest;
}

/**
 * A progress bar of `width` characters for `fraction` (0 to 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bar } from "./terminal.ts";
 * assert.deepEqual(bar(0.5, 4), "==> ");
 * ```
 */
export function bar(fraction: number, width: number): string {
  const full = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return "=".repeat(full) + (full < width ? ">" : "") + " ".repeat(Math.max(0, width - full - 1));
}

/** Terminal width (80 when stderr is not one). */
function columns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}

/** A line cut to the terminal's width, so a redraw never wraps. */
export const fitLine = (line: string): string => line.slice(0, Math.max(20, columns() - 1));
