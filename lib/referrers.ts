/**
 * Referrers (OCI image spec 1.1 `subject`): how a referrer is described in
 * an index of referrers, what it refers to, and the fallback tag that names
 * such an index where there is no referrers API. Shared by every transport
 * and the copy engine.
 *
 * @module
 */
import { parseDigest } from "./digest.ts";
import { UsageError } from "./errors.ts";
import type { Descriptor, ParsedManifest } from "./manifest.ts";
import { canListReferrers, type Resolver } from "./remotes/remotes.ts";

/**
 * The fallback tag of a digest, as the distribution spec names it:
 * `sha256:abc…` → `sha256-abc…`.
 *
 * @example
 * ```ts
 * import { fallbackTag } from "./referrers.ts";
 * console.log(fallbackTag("sha256:" + "a".repeat(64)) === "sha256-" + "a".repeat(64)); // true
 * ```
 */
export function fallbackTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex}`.slice(0, 128);
}

/**
 * The descriptor of a referrer as an index of referrers lists it: media
 * type, digest, size, `artifactType` (the config's media type when the
 * manifest states none) and annotations.
 *
 * @example
 * ```ts
 * import { referrerDescriptor } from "./referrers.ts";
 * import { parseManifest } from "./manifest.ts";
 * const m = parseManifest(new TextEncoder().encode(JSON.stringify({
 *   schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   artifactType: "application/spdx+json",
 *   config: { mediaType: "application/vnd.oci.empty.v1+json", digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2 },
 *   layers: [],
 * })));
 * console.log(referrerDescriptor(m).artifactType); // "application/spdx+json"
 * ```
 */
export function referrerDescriptor(m: ParsedManifest): Descriptor {
  const d: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.raw.byteLength };
  const doc = m.kind === "manifest" ? m.manifest : m.index;
  const artifactType = doc.artifactType ??
    (m.kind === "manifest" ? m.manifest.config.mediaType : undefined);
  if (artifactType) d.artifactType = artifactType;
  if (doc.annotations && Object.keys(doc.annotations).length) d.annotations = doc.annotations;
  return d;
}

/**
 * The digest of the manifest `m` refers to, if it is a referrer.
 *
 * @example
 * ```ts
 * import { subjectOf } from "./referrers.ts";
 * import { parseManifest } from "./manifest.ts";
 * const m = parseManifest(new TextEncoder().encode('{"schemaVersion":2,"manifests":[]}'));
 * console.log(subjectOf(m)); // undefined
 * ```
 */
export function subjectOf(m: ParsedManifest): string | undefined {
  return (m.kind === "manifest" ? m.manifest.subject : m.index.subject)?.digest;
}

/** A referrer and, when listed recursively, what refers to it. */
export interface ReferrerNode extends Descriptor {
  /** Referrers of this referrer (only with `recursive`). */
  referrers?: ReferrerNode[];
}

/** Options of {@linkcode listReferrers}. */
export interface ListReferrersOptions {
  /** Only referrers of these artifact types, at every depth. */
  artifactTypes?: string[];
  /** Also list the referrers of each referrer, and so on (each manifest once). */
  recursive?: boolean;
}

/**
 * The referrers of the manifest `ref` names, as an OCI index would list
 * them, optionally with their own referrers nested under `referrers`.
 *
 * @example
 * ```ts
 * import { listReferrers, MemoryResolver } from "../mod.ts";
 * const r = new MemoryResolver();
 * // const { subject, referrers } = await listReferrers(r, "1", { recursive: true });
 * void r; void listReferrers;
 * ```
 */
export async function listReferrers(
  resolver: Resolver,
  ref: string,
  options: ListReferrersOptions = {},
): Promise<{ subject: Descriptor; referrers: ReferrerNode[] }> {
  if (!canListReferrers(resolver)) {
    throw new UsageError(`${ref || "this image"}: its transport cannot hold referrers`);
  }
  const subject = (await resolver.resolve(ref)).descriptor;
  const seen = new Set([subject.digest]);
  const walk = async (digest: string): Promise<ReferrerNode[]> => {
    const found = await resolver.referrers(ref, digest, { artifactTypes: options.artifactTypes });
    const nodes: ReferrerNode[] = [];
    for (const d of found) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      nodes.push(options.recursive ? { ...d, referrers: await walk(d.digest) } : { ...d });
    }
    return nodes;
  };
  return { subject, referrers: await walk(subject.digest) };
}
