/**
 * Referrers on a registry (OCI distribution spec 1.1, "Listing Referrers"):
 * the referrers API `GET /v2/<name>/referrers/<digest>` (every page), and
 * where a registry does not have it (it answers 404), the fallback tag
 * `<alg>-<hex>` naming an index of the referrers, which a client that
 * pushes a referrer keeps up to date itself.
 *
 * @module
 */
import { DtoolError, NotFoundError, ReferrersIndexError } from "../../errors.ts";
import { type Descriptor, MAX_MANIFEST_BYTES, parseManifest } from "../../manifest.ts";
import { fallbackTag } from "../../referrers.ts";
import { isIndexMediaType, MANIFEST_ACCEPT, MediaType } from "../../media_types.ts";
import { sleep } from "../../retry.ts";
import { readBody, type RegistryClient, responseError } from "./http.ts";
import { listPages } from "./tags.ts";

/** Where a registry's referrers are read and written. */
export interface ReferrersTarget {
  /** The HTTP client. */
  client: RegistryClient;
  /** Registry host. */
  host: string;
  /** Repository path. */
  repository: string;
  /** Token scope for reading (and writing, for a pusher). */
  scope: string;
}

/** What a listing found, and how. */
export interface ReferrersListing {
  /** The referrers' descriptors (with `artifactType` and annotations). */
  manifests: Descriptor[];
  /** True when the registry answered the referrers API; false when the fallback tag served. */
  api: boolean;
}

/**
 * Every referrer of `subject` in the repository: from the referrers API,
 * or from the fallback tag when the registry answers 404 for the API
 * (never both). Filtered by artifact type when `artifactTypes` is given,
 * also when the registry did not filter.
 */
export async function listRegistryReferrers(
  t: ReferrersTarget,
  subject: string,
  artifactTypes: readonly string[] = [],
): Promise<ReferrersListing> {
  const query = artifactTypes.length === 1
    ? `?${new URLSearchParams({ artifactType: artifactTypes[0] })}`
    : "";
  let manifests: Descriptor[];
  try {
    manifests = await listPages<Descriptor>(t.client, {
      host: t.host,
      path: `/v2/${t.repository}/referrers/${subject}${query}`,
      headers: { accept: MediaType.OciIndex },
      scope: t.scope,
      field: "manifests",
      what: `referrers of ${subject}`,
      notFound: `no referrers API`,
    });
  } catch (e) {
    // 404: the registry has no referrers API; the fallback tag is where clients keep them.
    if (!(e instanceof NotFoundError)) throw e;
    return { manifests: keep(await readFallback(t, subject), artifactTypes), api: false };
  }
  return { manifests: keep(manifests, artifactTypes), api: true };
}

function keep(manifests: Descriptor[], artifactTypes: readonly string[]): Descriptor[] {
  if (artifactTypes.length === 0) return manifests;
  return manifests.filter((d) => d.artifactType && artifactTypes.includes(d.artifactType));
}

/** The fallback index's entries; none when the tag does not exist. */
async function readFallback(t: ReferrersTarget, subject: string): Promise<Descriptor[]> {
  const tag = fallbackTag(subject);
  const res = await t.client.request({
    host: t.host,
    path: `/v2/${t.repository}/manifests/${tag}`,
    // Every manifest type, so a tag that names something else is seen (and reported) as such.
    headers: { accept: MANIFEST_ACCEPT.join(", ") },
    scope: t.scope,
  });
  if (res.status === 404) {
    await res.body?.cancel();
    return [];
  }
  if (!res.ok) throw await responseError(res, `referrers tag ${tag}`);
  const raw = await readBody(res, MAX_MANIFEST_BYTES);
  let parsed;
  try {
    parsed = parseManifest(raw, res.headers.get("content-type") ?? undefined);
  } catch (e) {
    throw new ReferrersIndexError(
      `referrers tag ${tag} of ${t.repository} is not an index: ${(e as Error).message}`,
    );
  }
  if (parsed.kind !== "index" || !isIndexMediaType(parsed.mediaType)) {
    throw new ReferrersIndexError(
      `referrers tag ${tag} of ${t.repository} names a ${parsed.mediaType}, not an index`,
    );
  }
  return parsed.index.manifests;
}

/**
 * Adds `referrers` to the fallback index of `subject` (creating it), then,
 * after a pause long enough for a concurrent writer's read-modify-write to
 * land, reads the index back to check the entries survived it, merging
 * again when they did not. Registries have no compare-and-swap on tags, so
 * this is the best a client can do; one merge per subject keeps it cheap.
 */
export async function addToFallbackIndex(
  t: ReferrersTarget,
  subject: string,
  referrers: readonly Descriptor[],
  options: { attempts?: number; settleMs?: number } = {},
): Promise<void> {
  const tag = fallbackTag(subject);
  const attempts = options.attempts ?? 5;
  const settle = options.settleMs ?? 150;
  const missing = (list: Descriptor[]) =>
    referrers.filter((r) => !list.some((d) => d.digest === r.digest));
  let current = await readFallback(t, subject);
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const absent = missing(current);
    if (absent.length === 0) return;
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [...current, ...absent],
    };
    const res = await t.client.request({
      host: t.host,
      method: "PUT",
      path: `/v2/${t.repository}/manifests/${tag}`,
      headers: { "content-type": MediaType.OciIndex },
      body: new TextEncoder().encode(JSON.stringify(index)),
      scope: t.scope,
    });
    if (res.status !== 201 && res.status !== 200) {
      throw await responseError(res, `referrers tag ${tag}`);
    }
    await res.body?.cancel();
    // Jittered, so writers that raced once do not check in lockstep again.
    await sleep(settle * (0.5 + Math.random()));
    current = await readFallback(t, subject);
  }
  if (missing(current).length > 0) {
    throw new DtoolError(`referrers tag ${tag}: entries lost to concurrent writers`);
  }
}
