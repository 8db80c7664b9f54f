/**
 * Why a registry request is made, in words, for the `--debug` trace: read
 * from the method and the Distribution API path, so that callers need not
 * say it themselves.
 *
 * @module
 */

const API = /^\/v2\/(?:(.+)\/)?(manifests|blobs|tags|_catalog)(?:\/(.*))?$/;

/**
 * Names the purpose of a request to a registry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestPurpose } from "./purpose.ts";
 * assert.deepEqual(requestPurpose("HEAD", new URL("http://r/v2/app/blobs/sha256:ab")), "does the blob exist?");
 * assert.deepEqual(requestPurpose("GET", new URL("http://r/v2/")), "ping: API version and authorization scheme");
 * ```
 */
export function requestPurpose(method: string, url: URL): string {
  if (url.pathname === "/v2/" || url.pathname === "/v2") {
    return "ping: API version and authorization scheme";
  }
  const m = url.pathname.match(API);
  if (!m) return method === "GET" ? "token or redirected content" : "redirected request";
  const [, , kind, rest = ""] = m;
  if (kind === "manifests") {
    return {
      GET: "read the manifest",
      HEAD: "does the manifest exist?",
      PUT: "push the manifest",
      DELETE: "delete the manifest",
    }[method] ?? "manifest";
  }
  if (kind === "tags") return url.searchParams.has("last") ? "next page of tags" : "list tags";
  if (kind === "_catalog") return "list repositories";
  if (rest === "uploads/" || rest === "uploads") {
    return url.searchParams.has("mount")
      ? "mount the blob from another repository"
      : "start an upload";
  }
  if (rest.startsWith("uploads/")) {
    if (method === "PATCH") return "upload a chunk";
    if (method === "PUT") return "finish the upload (the registry checks the digest)";
    if (method === "DELETE") return "cancel the upload";
    return "upload status";
  }
  return {
    GET: "read the blob",
    HEAD: "does the blob exist?",
    DELETE: "delete the blob",
  }[method] ??
    "blob";
}
