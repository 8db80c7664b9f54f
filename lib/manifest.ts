/**
 * Descriptors, manifests and indexes: parsed from the exact bytes a registry
 * served, with those bytes kept beside the parsed value so copies stay byte
 * for byte (and digest for digest) identical.
 *
 * @module
 */
import { computeDigest, type Digest, isDigest } from "./digest.ts";
import { InvalidManifestError } from "./errors.ts";
import {
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
  MediaType,
} from "./media_types.ts";
import type { Platform } from "./platform.ts";

/** Largest manifest dtool accepts, as containerd and distribution do. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** A pointer to content: what it is, its digest and size (OCI descriptor). */
export interface Descriptor {
  /** Media type of the content pointed to. */
  mediaType: string;
  /** Digest of the content. */
  digest: Digest;
  /** Size of the content in bytes. */
  size: number;
  /** Where the content may be fetched from besides the registry (foreign layers). */
  urls?: string[];
  /** Free-form metadata. */
  annotations?: Record<string, string>;
  /** Platform of an index entry. */
  platform?: Platform;
  /** Type of an artifact. */
  artifactType?: string;
  /** Embedded content, base64. */
  data?: string;
}

/** A single image: one config and its layers. */
export interface Manifest {
  /** Always 2. */
  schemaVersion: 2;
  /** The manifest's own media type, when it states it. */
  mediaType?: string;
  /** Type of an artifact manifest. */
  artifactType?: string;
  /** The image config blob. */
  config: Descriptor;
  /** Layers, base first. */
  layers: Descriptor[];
  /** Manifest this one refers to (referrers API). */
  subject?: Descriptor;
  /** Free-form metadata. */
  annotations?: Record<string, string>;
}

/** An image index or Docker manifest list: manifests, usually one per platform. */
export interface Index {
  /** Always 2. */
  schemaVersion: 2;
  /** The index's own media type, when it states it. */
  mediaType?: string;
  /** Type of an artifact index. */
  artifactType?: string;
  /** The children. */
  manifests: Descriptor[];
  /** Manifest this one refers to (referrers API). */
  subject?: Descriptor;
  /** Free-form metadata. */
  annotations?: Record<string, string>;
}

/** What every parsed manifest document carries. */
export interface ParsedCommon {
  /** The media type, from the document or the Content-Type it came with. */
  mediaType: string;
  /** The exact bytes served. */
  raw: Uint8Array;
  /** sha256 digest of `raw`. */
  digest: Digest;
}

/** A parsed image manifest with its raw bytes. */
export interface ParsedImageManifest extends ParsedCommon {
  /** Discriminant. */
  kind: "manifest";
  /** The parsed document. */
  manifest: Manifest;
}

/** A parsed index with its raw bytes. */
export interface ParsedIndex extends ParsedCommon {
  /** Discriminant. */
  kind: "index";
  /** The parsed document. */
  index: Index;
}

/** Either kind of parsed manifest document. */
export type ParsedManifest = ParsedImageManifest | ParsedIndex;

const GENERIC_CONTENT_TYPES = new Set([
  "",
  "application/json",
  "application/octet-stream",
  "text/plain",
]);

function fail(message: string): never {
  throw new InvalidManifestError(message);
}

function checkDescriptor(d: unknown, where: string): Descriptor {
  if (typeof d !== "object" || d === null || Array.isArray(d)) fail(`${where} is not an object`);
  const o = d as Record<string, unknown>;
  if (typeof o.mediaType !== "string" || o.mediaType === "") fail(`${where} has no mediaType`);
  if (typeof o.digest !== "string" || !isDigest(o.digest)) {
    fail(`${where} has an invalid digest ${JSON.stringify(o.digest)}`);
  }
  if (typeof o.size !== "number" || !Number.isSafeInteger(o.size) || o.size < 0) {
    fail(`${where} has an invalid size ${JSON.stringify(o.size)}`);
  }
  return o as unknown as Descriptor;
}

function contentTypeOf(header: string | undefined): string {
  return (header ?? "").split(";")[0].trim().toLowerCase();
}

/**
 * Parses manifest or index bytes, checking what a copy relies on. The
 * `contentType` is the registry's Content-Type header, used when the
 * document does not state its media type, and checked against it when it does.
 * `sha256` is the bytes' SHA-256 digest when the caller has computed it already.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseManifest } from "./manifest.ts";
 * const raw = new TextEncoder().encode(JSON.stringify({
 *   schemaVersion: 2,
 *   mediaType: "application/vnd.oci.image.index.v1+json",
 *   manifests: [],
 * }));
 * const m = parseManifest(raw);
 * assert.deepEqual(m.kind, "index");
 * ```
 */
export function parseManifest(
  raw: Uint8Array,
  contentType?: string,
  sha256?: Digest,
): ParsedManifest {
  if (raw.byteLength > MAX_MANIFEST_BYTES) {
    fail(`manifest is ${raw.byteLength} bytes, larger than the ${MAX_MANIFEST_BYTES} allowed`);
  }
  const served = contentTypeOf(contentType);
  if (isSchema1MediaType(served)) fail("Docker schema 1 manifests are not supported");
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(raw));
  } catch (e) {
    fail(`manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    fail("manifest is not a JSON object");
  }
  const o = doc as Record<string, unknown>;
  if (o.schemaVersion === 1) fail("Docker schema 1 manifests are not supported");
  if (o.schemaVersion !== 2) fail(`unsupported schemaVersion ${JSON.stringify(o.schemaVersion)}`);
  if (o.mediaType !== undefined && typeof o.mediaType !== "string") {
    fail("mediaType is not a string");
  }
  const declared = (o.mediaType as string | undefined)?.toLowerCase();
  if (declared && isSchema1MediaType(declared)) fail("Docker schema 1 manifests are not supported");
  if (declared && !GENERIC_CONTENT_TYPES.has(served) && declared !== served) {
    fail(`mediaType ${declared} disagrees with Content-Type ${served}`);
  }
  const mediaType = declared || (!GENERIC_CONTENT_TYPES.has(served) ? served : guessMediaType(o));
  const digest = sha256 ?? computeDigest(raw);
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(o.manifests)) fail("index has no manifests list");
    (o.manifests as unknown[]).forEach((d, i) => checkDescriptor(d, `manifests[${i}]`));
    return { kind: "index", mediaType, raw, digest, index: o as unknown as Index };
  }
  if (isManifestMediaType(mediaType)) {
    if (o.config === undefined) fail("manifest has no config");
    checkDescriptor(o.config, "config");
    if (!Array.isArray(o.layers)) fail("manifest has no layers list");
    (o.layers as unknown[]).forEach((d, i) => checkDescriptor(d, `layers[${i}]`));
    return { kind: "manifest", mediaType, raw, digest, manifest: o as unknown as Manifest };
  }
  fail(`unsupported manifest media type ${JSON.stringify(mediaType)}`);
}

/** A document with no media type: an OCI index if it lists manifests, else a manifest. */
function guessMediaType(o: Record<string, unknown>): string {
  if (Array.isArray(o.manifests)) return MediaType.OciIndex;
  const config = o.config as Record<string, unknown> | undefined;
  if (config?.mediaType === MediaType.DockerConfig) return MediaType.DockerManifest;
  return MediaType.OciManifest;
}
