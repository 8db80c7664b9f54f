/**
 * Errors as the distribution spec answers them: a code from its table, the
 * HTTP status that goes with it, and the JSON body
 * `{"errors":[{"code","message","detail"}]}`.
 *
 * @module
 */

/** The spec's error codes, each with the status a registry answers it with. */
export const ErrorCode = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
} as const;

/** One of the spec's error codes. */
export type ErrorCodeName = keyof typeof ErrorCode;

/**
 * A request the registry refuses, with the spec's code; `status` overrides
 * the code's usual one (416 for an upload range, 413 for a huge manifest).
 *
 * @example
 * ```ts
 * import { RegistryError } from "./errors.ts";
 * const e = new RegistryError("NAME_UNKNOWN", "repository a is not known");
 * console.log(e.status); // 404
 * ```
 */
export class RegistryError extends Error {
  /** The spec's code. */
  readonly code: ErrorCodeName;
  /** The HTTP status. */
  readonly status: number;
  /** Extra detail for the JSON body. */
  readonly detail?: unknown;
  /** Headers the answer needs besides the body's (a `Range`, a `Location`). */
  readonly headers?: Record<string, string>;

  /** Creates the error. */
  constructor(
    code: ErrorCodeName,
    message: string,
    options: { status?: number; detail?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "RegistryError";
    this.code = code;
    this.status = options.status ?? ErrorCode[code];
    this.detail = options.detail;
    this.headers = options.headers;
  }
}

/**
 * The response for an error: the spec's JSON body with its status. Errors
 * that are not {@linkcode RegistryError}s are 500s, their message kept.
 *
 * @example
 * ```ts
 * import { errorResponse, RegistryError } from "./errors.ts";
 * const res = errorResponse(new RegistryError("BLOB_UNKNOWN", "blob unknown to registry"));
 * console.log(res.status, (await res.json()).errors[0].code); // 404 "BLOB_UNKNOWN"
 * ```
 */
export function errorResponse(err: unknown, method = "GET"): Response {
  const e = err instanceof RegistryError
    ? err
    : new RegistryError("UNSUPPORTED", err instanceof Error ? err.message : String(err), {
      status: 500,
    });
  const code = e.status === 500 ? "UNKNOWN" : e.code;
  const body = JSON.stringify({
    errors: [{ code, message: e.message, detail: e.detail ?? null }],
  });
  const headers = new Headers({ "content-type": "application/json", ...e.headers });
  headers.set("content-length", String(new TextEncoder().encode(body).byteLength));
  return new Response(method === "HEAD" ? null : body, { status: e.status, headers });
}
