/**
 * Finding an image by name among the entries of an OCI `index.json`, as
 * tools that write layouts name them: dtool and skopeo by the ref name
 * exactly as given (`1`, `bench/small:1`), others by a full image name in
 * the ref name (`docker.io/library/app:1`) or in containerd's
 * `io.containerd.image.name` annotation.
 *
 * @module
 */
import { NotFoundError, UsageError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import { isIndexMediaType, isManifestMediaType } from "../media_types.ts";
import { parseDockerReference } from "../reference.ts";
import { CONTAINERD_NAME_ANNOTATION, refName } from "./layout.ts";

/**
 * The entry `ref` names among `manifests` (where `where` names the layout
 * for errors). Without `ref` there must be exactly one image.
 *
 * @example
 * ```ts
 * import { findRef } from "./refs.ts";
 * const d = {
 *   mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   digest: "sha256:" + "a".repeat(64),
 *   size: 2,
 *   annotations: { "org.opencontainers.image.ref.name": "docker.io/library/app:1" },
 * };
 * console.log(findRef([d], "app:1", "oci:x").digest === d.digest); // true
 * ```
 */
export function findRef(
  manifests: Descriptor[],
  ref: string | undefined,
  where: string,
): Descriptor {
  const images = manifests.filter((d) =>
    isManifestMediaType(d.mediaType) || isIndexMediaType(d.mediaType)
  );
  if (ref === undefined) {
    const named = images.filter((d) => refName(d) !== undefined || !isReferrerEntry(d));
    if (named.length === 1) return named[0];
    if (named.length === 0) throw new NotFoundError(`${where} holds no image`);
    throw new UsageError(
      `${where} holds ${named.length} images; name one of them: ${describeRefs(named)}`,
    );
  }
  const exact = images.filter((d) => refName(d) === ref);
  if (exact.length > 0) return exact[exact.length - 1];
  const wanted = normalised(ref);
  const loose = images.filter((d) => {
    const name = refName(d);
    const containerd = d.annotations?.[CONTAINERD_NAME_ANNOTATION];
    return (name !== undefined && (name.endsWith(`:${ref}`) || sameImage(name, wanted))) ||
      (containerd !== undefined && (containerd === ref || sameImage(containerd, wanted)));
  });
  const digests = new Set(loose.map((d) => d.digest));
  if (digests.size === 1) return loose[0];
  if (digests.size > 1) {
    throw new UsageError(`${where}: "${ref}" matches several images: ${describeRefs(loose)}`);
  }
  throw new NotFoundError(
    `${where} has no image named "${ref}"${
      images.length ? ` (refs: ${describeRefs(images)})` : ""
    }`,
  );
}

/** Every ref name in a layout's index, in order, without repeats. */
export function refNames(manifests: Descriptor[]): string[] {
  return [...new Set(manifests.map(refName).filter((n): n is string => n !== undefined))];
}

/** An untagged entry that refers to another manifest (kept so referrers travel). */
function isReferrerEntry(d: Descriptor): boolean {
  return d.artifactType !== undefined;
}

function describeRefs(ds: Descriptor[]): string {
  return ds.map((d) => refName(d) ?? `(unnamed ${d.digest})`).join(", ");
}

function normalised(name: string): string | undefined {
  try {
    return parseDockerReference(name).toString();
  } catch {
    return undefined;
  }
}

function sameImage(name: string, wanted: string | undefined): boolean {
  return wanted !== undefined && normalised(name) === wanted;
}
