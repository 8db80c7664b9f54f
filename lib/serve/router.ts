/**
 * The distribution spec's URL space: which endpoint a request path names.
 * Names and references come out as they are in the path; handlers check
 * them against the grammar.
 *
 * @module
 */

/** An endpoint of the distribution API. */
export type Route =
  | { kind: "base" }
  | { kind: "catalog" }
  | { kind: "tags"; name: string }
  | { kind: "manifest"; name: string; reference: string }
  | { kind: "blob"; name: string; digest: string }
  | { kind: "uploads"; name: string }
  | { kind: "upload"; name: string; id: string }
  | { kind: "referrers"; name: string; digest: string };

const ROUTES: [RegExp, (m: RegExpMatchArray) => Route][] = [
  [/^\/v2\/?$/, () => ({ kind: "base" })],
  [/^\/v2\/_catalog$/, () => ({ kind: "catalog" })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: "tags", name: m[1] })],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: "manifest", name: m[1], reference: m[2] })],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: "uploads", name: m[1] })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: "upload", name: m[1], id: m[2] })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: "blob", name: m[1], digest: m[2] })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: "referrers", name: m[1], digest: m[2] })],
];

/**
 * The route of a URL path, or `undefined` for paths outside the API.
 *
 * @example
 * ```ts
 * import { parseRoute } from "./router.ts";
 * console.log(parseRoute("/v2/team/app/manifests/1")); // { kind: "manifest", name: "team/app", reference: "1" }
 * ```
 */
export function parseRoute(pathname: string): Route | undefined {
  for (const [re, make] of ROUTES) {
    const m = pathname.match(re);
    if (m) return make(m);
  }
  return undefined;
}

/** The methods each endpoint answers; others get 405. */
export const METHODS: Record<Route["kind"], readonly string[]> = {
  base: ["GET", "HEAD"],
  catalog: ["GET"],
  tags: ["GET"],
  manifest: ["GET", "HEAD", "PUT", "DELETE"],
  blob: ["GET", "HEAD", "DELETE"],
  uploads: ["POST"],
  upload: ["GET", "PATCH", "PUT", "DELETE"],
  referrers: ["GET"],
};

/** Methods that change what the registry holds (refused by `--read-only`). */
export const WRITE_METHODS: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);
