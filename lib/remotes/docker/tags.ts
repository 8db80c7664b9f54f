/**
 * Paged listings: tags (`GET /v2/<name>/tags/list`) and the catalog
 * (`GET /v2/_catalog`), following the `Link` header of each page
 * (distribution spec, "Listing Tags"; Docker's catalog API).
 *
 * @module
 */
import { DtoolError, NotFoundError } from "../../errors.ts";
import type { DockerReference } from "../../reference.ts";
import { readBody, type RegistryClient, responseError } from "./http.ts";

const MAX_PAGES = 10_000;
/** A page of tags is a JSON list of names; 16 MiB is far beyond any registry's page. */
const MAX_PAGE_BYTES = 16 * 1024 * 1024;

/**
 * The URL of the next page from a `Link` header, if any.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nextLink } from "./tags.ts";
 * assert.deepEqual(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"'), "/v2/a/tags/list?n=2&last=b");
 * ```
 */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const m = part.match(/<([^>]*)>\s*;(.*)$/);
    const rel = m?.[2].match(/rel\s*=\s*(?:"([^"]*)"|([^;\s]+))/i);
    if (m && rel && (rel[1] ?? rel[2]).toLowerCase().split(/\s+/).includes("next")) return m[1];
  }
  return undefined;
}

/** One paged listing of the distribution API: tags of a repository, or the catalog. */
export interface PagedListing {
  /** Registry host. */
  host: string;
  /** First page, e.g. `/v2/app/tags/list`. */
  path: string;
  /** Token scope the listing needs. */
  scope: string;
  /** The JSON field holding each page's names (`tags`, `repositories`). */
  field: string;
  /** What is listed, for errors: `tags of localhost:5000/app`. */
  what: string;
  /** The error a 404 means. */
  notFound: string;
  /** Request headers (the referrers API wants an index `Accept`). */
  headers?: Record<string, string>;
}

/**
 * Every name of a paged listing, following each page's `Link` header.
 *
 * @example
 * ```ts ignore
 * import { listPages } from "./tags.ts";
 * import { RegistryClient } from "./http.ts";
 * const repos = await listPages(new RegistryClient({}), {
 *   host: "localhost:5000", path: "/v2/_catalog", scope: "registry:catalog:*",
 *   field: "repositories", what: "catalog of localhost:5000", notFound: "no catalog",
 * });
 * ```
 */
export async function listPages<T = string>(
  client: RegistryClient,
  listing: PagedListing,
): Promise<T[]> {
  const names: T[] = [];
  let next: string | undefined = listing.path;
  for (let page = 0; next !== undefined; page++) {
    if (page >= MAX_PAGES) throw new DtoolError(`${listing.what} never ends`);
    const res = await client.request({
      host: listing.host,
      ...(page === 0 ? { path: next } : { url: next }),
      headers: listing.headers,
      scope: listing.scope,
    });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new NotFoundError(listing.notFound);
    }
    if (!res.ok) throw await responseError(res, listing.what);
    const bytes = await readBody(res, MAX_PAGE_BYTES);
    const body = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    const items = body[listing.field];
    if (Array.isArray(items)) names.push(...items as T[]);
    next = nextLink(res.headers.get("link"));
  }
  return names;
}

/**
 * Every tag of a repository, in the order the registry gives them.
 *
 * @example
 * ```ts ignore
 * import { listTags } from "./tags.ts";
 * import { RegistryClient } from "./http.ts";
 * import { parseDockerReference } from "../../reference.ts";
 * const tags = await listTags(new RegistryClient({}), parseDockerReference("localhost:5000/app"));
 * ```
 */
export function listTags(client: RegistryClient, ref: DockerReference): Promise<string[]> {
  return listPages(client, {
    host: ref.domain,
    path: `/v2/${ref.path}/tags/list`,
    scope: `repository:${ref.path}:pull`,
    field: "tags",
    what: `tags of ${ref.name}`,
    notFound: `repository ${ref.name} not found`,
  });
}

/**
 * Every repository of a registry (`GET /v2/_catalog`, every page).
 *
 * @example
 * ```ts ignore
 * import { listCatalog } from "./tags.ts";
 * import { RegistryClient } from "./http.ts";
 * const repositories = await listCatalog(new RegistryClient({}), "localhost:5000");
 * ```
 */
export function listCatalog(client: RegistryClient, host: string): Promise<string[]> {
  return listPages(client, {
    host,
    path: "/v2/_catalog",
    scope: "registry:catalog:*",
    field: "repositories",
    what: `catalog of ${host}`,
    notFound: `registry ${host} has no catalog`,
  });
}
