/**
 * Where a synced image goes: skopeo's naming rule, with a host's `:port`
 * written `_port` so scoped names stay valid repository paths.
 *
 * @module
 */

/** A source image as naming sees it. */
export interface SourceName {
  /** Registry host (`localhost:5000`); `""` for an image from a layout. */
  registry: string;
  /** Repository path inside it (`a/b`). */
  repository: string;
  /** Tag, when the image is named by one. */
  tag?: string;
  /** Digest, when the image is named by one (and no tag). */
  digest?: string;
}

/** How destination names are made. */
export interface NamingOptions {
  /** Keep the whole source name (`host/a/b`) instead of its last element (`b`). */
  scoped?: boolean;
  /** Appended to every destination tag (`1` → `1S`); digests keep their name. */
  appendSuffix?: string;
}

/** A destination name: repository and tag or digest. */
export interface DestinationName {
  /** Repository path below the destination (`b`, or `localhost_5000/a/b` scoped). */
  repository: string;
  /** Tag to write, when the source was named by a tag. */
  tag?: string;
  /** Digest to write by, when the source was named by a digest. */
  digest?: string;
}

/**
 * The destination repository and tag of a source image: its last path
 * element, or with `scoped` its registry (`:port` → `_port`) and whole path;
 * the tag gets the suffix.
 *
 * @example
 * ```ts
 * import { destinationName } from "./naming.ts";
 * const src = { registry: "localhost:5000", repository: "a/b", tag: "1" };
 * console.log(destinationName(src, {}).repository); // "b"
 * console.log(destinationName(src, { scoped: true, appendSuffix: "-m" }));
 * // { repository: "localhost_5000/a/b", tag: "1-m" }
 * ```
 */
export function destinationName(src: SourceName, opts: NamingOptions): DestinationName {
  const repository = opts.scoped
    ? [scopedHost(src.registry), src.repository].filter(Boolean).join("/")
    : src.repository.slice(src.repository.lastIndexOf("/") + 1);
  if (src.tag !== undefined) return { repository, tag: src.tag + (opts.appendSuffix ?? "") };
  return { repository, digest: src.digest };
}

/**
 * A registry host as a repository path element: `host:5000` → `host_5000`
 * (a path cannot hold a colon), an IPv6 literal's brackets and colons too.
 *
 * @example
 * ```ts
 * import { scopedHost } from "./naming.ts";
 * console.log(scopedHost("127.0.0.1:5000")); // "127.0.0.1_5000"
 * ```
 */
export function scopedHost(host: string): string {
  return host.replace(/[[\]]/g, "").replaceAll(":", "_");
}

/**
 * `repository:tag` or `repository@digest`: the name part of a destination
 * reference (docker) or an OCI layout's ref name.
 *
 * @example
 * ```ts
 * import { nameWithTag } from "./naming.ts";
 * console.log(nameWithTag({ repository: "b", tag: "1" })); // "b:1"
 * ```
 */
export function nameWithTag(name: DestinationName): string {
  return name.tag !== undefined
    ? `${name.repository}:${name.tag}`
    : `${name.repository}@${name.digest}`;
}
