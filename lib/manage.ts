/**
 * Managing what a registry or layout holds, as crane and regctl do: new tags
 * for a manifest (its bytes put again, no blob moves), deletes, the digest a
 * reference names, and the list of repositories. Each works through the
 * {@linkcode Resolver} interfaces and optional abilities, never HTTP.
 *
 * @module
 */
import { UsageError } from "./errors.ts";
import { type ParsedManifest, parseManifest } from "./manifest.ts";
import { isIndexMediaType } from "./media_types.ts";
import { choosePlatform, type Platform } from "./platform.ts";
import { type ImageReference, parseImageReference, withTag } from "./reference.ts";
import { readAll } from "./remotes/manifest_source.ts";
import type { Resolver } from "./remotes/remotes.ts";

/** An optional ability of a {@linkcode Resolver}: deleting manifests and tags. */
export interface ManifestDeleter {
  /** Deletes what `ref` names: a digest, or a tag (just the tag where the store can). */
  deleteManifest(ref: string): Promise<{ digest?: string; tagOnly: boolean }>;
}

/**
 * True when `r` can delete (see {@linkcode ManifestDeleter}).
 *
 * @example
 * ```ts
 * import { canDelete } from "./manage.ts";
 * console.log(canDelete({})); // false
 * ```
 */
export function canDelete<R extends object>(r: R): r is R & ManifestDeleter {
  return typeof (r as Partial<ManifestDeleter>).deleteManifest === "function";
}

/** An optional ability of a {@linkcode Resolver}: listing the repositories of a store. */
export interface RepositoryLister {
  /** Every repository, following every page; `host` names the registry. */
  listRepositories(host: string): Promise<string[]>;
}

/**
 * True when `r` can list repositories (see {@linkcode RepositoryLister}).
 *
 * @example
 * ```ts
 * import { canListRepositories } from "./manage.ts";
 * console.log(canListRepositories({ listRepositories: () => Promise.resolve([]) })); // true
 * ```
 */
export function canListRepositories<R extends object>(r: R): r is R & RepositoryLister {
  return typeof (r as Partial<RepositoryLister>).listRepositories === "function";
}

/**
 * The same image reference with another tag: `docker://h/app:1` → `docker://h/app:2`;
 * in a layout, the part after the ref name's last `:` (`oci:d:team/app:1` →
 * `oci:d:team/app:2`), or the whole ref name when it has none (`oci:d:1` → `oci:d:2`).
 *
 * @example
 * ```ts
 * import { retagReference } from "./manage.ts";
 * import { parseImageReference } from "./reference.ts";
 * console.log(retagReference(parseImageReference("oci:/x:team/app:1"), "2").toString()); // "oci:/x:team/app:2"
 * ```
 */
export function retagReference(image: ImageReference, tag: string): ImageReference {
  if (image.transport === "docker") {
    return parseImageReference(`docker://${withTag(image.docker, tag).toString()}`);
  }
  if (image.transport !== "oci") {
    throw new UsageError(`${image.transport}: references cannot be tagged`);
  }
  if (!/^[\w][\w.-]{0,127}$/.test(tag)) throw new UsageError(`invalid tag ${JSON.stringify(tag)}`);
  const ref = image.reference ?? "";
  const colon = ref.lastIndexOf(":");
  const name = colon > 0 ? `${ref.slice(0, colon)}:${tag}` : tag;
  return parseImageReference(`oci:${image.path}:${name}`);
}

/**
 * Reads the manifest `ref` names: its descriptor and exact bytes.
 *
 * @example
 * ```ts ignore
 * import { readManifest } from "./manage.ts";
 * const m = await readManifest(resolver, "localhost:5000/app:1");
 * console.log(m.digest);
 * ```
 */
export async function readManifest(resolver: Resolver, ref: string): Promise<ParsedManifest> {
  const { descriptor } = await resolver.resolve(ref);
  const fetcher = await resolver.fetcher(ref);
  const raw = await readAll(await fetcher.fetch(descriptor));
  return { ...parseManifest(raw, descriptor.mediaType), digest: descriptor.digest };
}

/**
 * Puts the manifest `ref` names under each of `tags` (in the grammar of the
 * resolver's push tags), without moving a blob: the same bytes, so the same
 * digest. Returns that digest.
 *
 * @example
 * ```ts ignore
 * import { tagManifest } from "./manage.ts";
 * await tagManifest(resolver, "localhost:5000/app:1", ["stable"]);
 * ```
 */
export async function tagManifest(
  resolver: Resolver,
  ref: string,
  tags: { ref: string; tag: string }[],
): Promise<string> {
  const m = await readManifest(resolver, ref);
  const desc = { mediaType: m.mediaType, digest: m.digest, size: m.raw.byteLength };
  for (const t of tags) {
    const pusher = await resolver.pusher(t.ref);
    const writer = await pusher.push(desc, { tag: t.tag, root: true });
    await new Blob([m.raw as BlobPart]).stream().pipeTo(writer.writable);
    await writer.commit();
  }
  return m.digest;
}

/**
 * The digest of the manifest `ref` names: one HEAD on a registry; with a
 * platform and an index, the digest of that platform's image.
 *
 * @example
 * ```ts ignore
 * import { manifestDigest } from "./manage.ts";
 * console.log(await manifestDigest(resolver, "localhost:5000/app:1"));
 * ```
 */
export async function manifestDigest(
  resolver: Resolver,
  ref: string,
  options: { platform?: Platform } = {},
): Promise<string> {
  const { descriptor } = await resolver.resolve(ref);
  if (!options.platform || !isIndexMediaType(descriptor.mediaType)) return descriptor.digest;
  const m = await readManifest(resolver, ref);
  if (m.kind !== "index") return m.digest;
  return choosePlatform(m.index, options.platform, { strict: true }).digest;
}
