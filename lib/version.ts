/**
 * dtool's version.
 *
 * @module
 */

/** dtool's version. */
export const VERSION = "0.1.0";

/**
 * What `dtool --version` prints: dtool's version and the Deno and V8 it runs
 * on, which decide its TLS, HTTP and memory behaviour.
 *
 * @example
 * ```ts
 * import { versionLine } from "./version.ts";
 * console.log(versionLine()); // e.g. "dtool 0.1.0 (deno 2.9.6, v8 15.0.245.2-rusty)"
 * ```
 */
export function versionLine(): string {
  return `dtool ${VERSION} (deno ${Deno.version.deno}, v8 ${Deno.version.v8})`;
}
