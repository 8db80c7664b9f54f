/**
 * Referrers and digest tags among the entries of a layout's `index.json`,
 * for every transport that holds an OCI layout (a directory, an archive):
 * referrers are entries whose manifest names the subject (as oras-go keeps
 * them) or the entries of an index kept under the subject's fallback tag
 * (as regclient keeps them); digest tags are ref names that start with a
 * fallback tag, inside the ref's repository.
 *
 * @module
 */
import { DigestMismatchError, InvalidManifestError, NotFoundError } from "../errors.ts";
import type { Descriptor, ParsedManifest } from "../manifest.ts";
import { isIndexMediaType, isManifestMediaType } from "../media_types.ts";
import { fallbackTag, referrerDescriptor, subjectOf } from "../referrers.ts";
import type { ReferrersOptions, TaggedDescriptor } from "../remotes/remotes.ts";
import { refName } from "./layout.ts";

/** Reads (and parses) the manifest an entry names. */
export type ReadEntry = (d: Descriptor) => Promise<ParsedManifest>;

/**
 * The referrers of `subject` among `entries`, filtered by artifact type.
 *
 * @example
 * ```ts
 * import { layoutReferrers } from "./layout_referrers.ts";
 * const none = await layoutReferrers([], "sha256:" + "a".repeat(64), () => Promise.reject());
 * console.log(none.length); // 0
 * ```
 */
export async function layoutReferrers(
  entries: Descriptor[],
  subject: string,
  read: ReadEntry,
  options: ReferrersOptions = {},
): Promise<Descriptor[]> {
  const found = new Map<string, Descriptor>();
  for (const d of entries) {
    if (!isManifestMediaType(d.mediaType) && !isIndexMediaType(d.mediaType)) continue;
    let m: ParsedManifest;
    try {
      m = await read(d);
    } catch (e) {
      // An entry whose manifest is gone or broken refers to nothing that could be copied; it
      // must not stop the referrers of every other image from being found.
      if (e instanceof NotFoundError || e instanceof DigestMismatchError) continue;
      if (e instanceof InvalidManifestError) continue;
      throw e;
    }
    if (refName(d) === fallbackTag(subject) && m.kind === "index") {
      for (const r of m.index.manifests) found.set(r.digest, r);
    } else if (subjectOf(m) === subject) {
      found.set(d.digest, referrerDescriptor(m));
    }
  }
  const types = options.artifactTypes ?? [];
  return [...found.values()].filter((d) =>
    types.length === 0 || (d.artifactType !== undefined && types.includes(d.artifactType))
  );
}

/**
 * Ref names in the repository of `ref` that start with the fallback tag of
 * one of `subjects`, as tags of that repository.
 *
 * @example
 * ```ts
 * import { layoutDigestTags } from "./layout_referrers.ts";
 * console.log(layoutDigestTags([], "app:1", []).length); // 0
 * ```
 */
export function layoutDigestTags(
  entries: Descriptor[],
  ref: string,
  subjects: readonly string[],
): TaggedDescriptor[] {
  const repo = repositoryPrefix(ref);
  const prefixes = subjects.map((s) => repo + fallbackTag(s));
  return entries.flatMap((descriptor) => {
    const name = refName(descriptor);
    return name !== undefined && prefixes.some((p) => name.startsWith(p))
      ? [{ tag: name.slice(repo.length), descriptor }]
      : [];
  });
}

/**
 * The repository part of a layout ref name, with its colon: `app:1` →
 * `app:`, `bench/small:1` → `bench/small:`, `1` → `""`. Layouts that hold
 * many repositories (sync, serve) name refs `<repository>:<tag>`.
 *
 * @example
 * ```ts
 * import { repositoryPrefix } from "./layout_referrers.ts";
 * console.log(repositoryPrefix("bench/small:1")); // "bench/small:"
 * ```
 */
export function repositoryPrefix(ref: string): string {
  return ref.slice(0, ref.lastIndexOf(":") + 1);
}

/**
 * The tag part of a layout ref name: `app:1` → `1`, `1` → `1`.
 *
 * @example
 * ```ts
 * import { tagOfRef } from "./layout_referrers.ts";
 * console.log(tagOfRef("bench/small:1")); // "1"
 * ```
 */
export function tagOfRef(ref: string): string {
  return ref.slice(ref.lastIndexOf(":") + 1);
}

/**
 * A reader that parses each manifest once, for a resolver that may be
 * asked for many subjects' referrers.
 */
export function cachedReader(readRaw: (d: Descriptor) => Promise<ParsedManifest>): ReadEntry {
  const cache = new Map<string, Promise<ParsedManifest>>();
  return (d) => {
    let m = cache.get(d.digest);
    if (!m) {
      m = readRaw(d);
      cache.set(d.digest, m);
    }
    return m;
  };
}
