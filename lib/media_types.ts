/**
 * OCI and Docker media types, and what kind of thing each names.
 *
 * @module
 */

/** Media types of the OCI image spec and Docker's schema 2. */
export const MediaType = {
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  OciEmpty: "application/vnd.oci.empty.v1+json",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  OciLayerNonDistributable: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  OciLayerNonDistributableGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  OciLayerNonDistributableZstd: "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  DockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerLayerZstd: "application/vnd.docker.image.rootfs.diff.tar.zstd",
  DockerForeignLayer: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  DockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  DockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

/** The Accept header values sent when fetching a manifest, best first. */
export const MANIFEST_ACCEPT: readonly string[] = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
];

function base(mediaType: string): string {
  return mediaType.split(";")[0].trim().toLowerCase();
}

/**
 * True for an image index or Docker manifest list.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isIndexMediaType } from "./media_types.ts";
 * assert.equal(isIndexMediaType("application/vnd.docker.distribution.manifest.list.v2+json"), true);
 * ```
 */
export function isIndexMediaType(mediaType: string): boolean {
  const m = base(mediaType);
  return m === MediaType.OciIndex || m === MediaType.DockerManifestList;
}

/**
 * True for a single-image manifest (OCI or Docker schema 2).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isManifestMediaType } from "./media_types.ts";
 * assert.equal(isManifestMediaType("application/vnd.oci.image.manifest.v1+json"), true);
 * ```
 */
export function isManifestMediaType(mediaType: string): boolean {
  const m = base(mediaType);
  return m === MediaType.OciManifest || m === MediaType.DockerManifest;
}

/**
 * True for Docker schema 1, which dtool does not support.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSchema1MediaType } from "./media_types.ts";
 * assert.equal(isSchema1MediaType("application/vnd.docker.distribution.manifest.v1+prettyjws"), true);
 * ```
 */
export function isSchema1MediaType(mediaType: string): boolean {
  const m = base(mediaType);
  return m === MediaType.DockerSchema1 || m === MediaType.DockerSchema1Signed;
}

/**
 * True for an image config blob type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isConfigMediaType } from "./media_types.ts";
 * assert.equal(isConfigMediaType("application/vnd.docker.container.image.v1+json"), true);
 * ```
 */
export function isConfigMediaType(mediaType: string): boolean {
  const m = base(mediaType);
  return m === MediaType.OciConfig || m === MediaType.DockerConfig;
}

/**
 * True for a filesystem layer of any compression, distributable or not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLayerMediaType } from "./media_types.ts";
 * assert.equal(isLayerMediaType("application/vnd.oci.image.layer.v1.tar+zstd"), true);
 * ```
 */
export function isLayerMediaType(mediaType: string): boolean {
  const m = base(mediaType);
  return m.startsWith("application/vnd.oci.image.layer.") ||
    m.startsWith("application/vnd.docker.image.rootfs.");
}

/**
 * True for layers that registries may not hold (Windows base layers): OCI
 * non-distributable and Docker foreign layers. Copies leave them where their
 * `urls` say they live.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isNonDistributableMediaType } from "./media_types.ts";
 * assert.equal(isNonDistributableMediaType("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"), true);
 * ```
 */
export function isNonDistributableMediaType(mediaType: string): boolean {
  const m = base(mediaType);
  return m.startsWith("application/vnd.oci.image.layer.nondistributable.") ||
    m === MediaType.DockerForeignLayer;
}

/** Compression of a layer, from its media type. */
export type LayerCompression = "none" | "gzip" | "zstd";

/**
 * The compression a layer media type declares.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { layerCompression } from "./media_types.ts";
 * assert.deepEqual(layerCompression("application/vnd.docker.image.rootfs.diff.tar.gzip"), "gzip");
 * ```
 */
export function layerCompression(mediaType: string): LayerCompression {
  const m = base(mediaType);
  if (m.endsWith("+gzip") || m.endsWith(".gzip")) return "gzip";
  if (m.endsWith("+zstd") || m.endsWith(".zstd")) return "zstd";
  return "none";
}
