/**
 * Tag listing: `GET /v2/<name>/tags/list`, following the `Link` header of
 * each page (distribution spec, "Listing Tags").
 *
 * @module
 */
import { DtoolError, NotFoundError } from "../../errors.ts";
import type { DockerReference } from "../../reference.ts";
import { readAll } from "../manifest_source.ts";
import { type RegistryClient, responseError } from "./http.ts";

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

/**
 * Every tag of a repository, in the order the registry gives them.
 *
 * @example
 * ```ts
 * import { listTags } from "./tags.ts";
 * import { RegistryClient } from "./http.ts";
 * import { parseDockerReference } from "../../reference.ts";
 * // const tags = await listTags(new RegistryClient({}), parseDockerReference("localhost:5000/app"));
 * ```
 */
export async function listTags(client: RegistryClient, ref: DockerReference): Promise<string[]> {
  const tags: string[] = [];
  let next: string | undefined = `/v2/${ref.path}/tags/list`;
  for (let page = 0; next !== undefined; page++) {
    if (page >= MAX_PAGES) throw new DtoolError(`tag listing of ${ref.name} never ends`);
    const res = await client.request({
      host: ref.domain,
      url: next,
      scope: `repository:${ref.path}:pull`,
    });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new NotFoundError(`repository ${ref.name} not found`);
    }
    if (!res.ok) throw await responseError(res, `tags of ${ref.name}`);
    const bytes = await readAll(res.body!, MAX_PAGE_BYTES);
    const body = JSON.parse(new TextDecoder().decode(bytes)) as { tags?: string[] | null };
    tags.push(...(body.tags ?? []));
    next = nextLink(res.headers.get("link"));
  }
  return tags;
}
