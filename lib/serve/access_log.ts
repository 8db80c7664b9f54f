/**
 * One access-log line per request, as `dtool serve` writes them on stderr:
 * method, path, status, bytes, time.
 *
 * @module
 */

/** What one line says. */
export interface AccessEntry {
  /** HTTP method. */
  method: string;
  /** Path and query. */
  path: string;
  /** Response status. */
  status: number;
  /** Body bytes moved: received for uploads, sent otherwise. */
  bytes: number;
  /** Milliseconds until the response was ready. */
  ms: number;
}

/**
 * Formats a line: `PATCH /v2/app/blobs/uploads/… 202 1048576 12ms`.
 *
 * @example
 * ```ts
 * import { formatAccess } from "./access_log.ts";
 * console.log(formatAccess({ method: "GET", path: "/v2/", status: 200, bytes: 2, ms: 1.2 }));
 * // "GET /v2/ 200 2 1ms"
 * ```
 */
export function formatAccess(e: AccessEntry): string {
  return `${e.method} ${e.path} ${e.status} ${e.bytes} ${Math.round(e.ms)}ms`;
}
