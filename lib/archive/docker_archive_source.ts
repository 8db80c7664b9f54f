/**
 * Reading a `docker save` archive, in all three forms that exist: the
 * legacy one (`manifest.json`, `<id>.json` config, uncompressed
 * `<id>/layer.tar`), Docker 25+ (an OCI layout inside, plus
 * `manifest.json`) and containerd's exporter (compressed blobs that
 * `manifest.json` points at). File names are never assumed: `manifest.json`
 * and `index.json` say where everything is.
 *
 * Where the archive holds a registry manifest for an image (an `index.json`
 * entry, or a blob whose digest matches), its exact bytes are served, so
 * digests survive. Only a legacy image gets a manifest made: Docker schema
 * 2, its layers gzip-compressed (the compressed digests are computed in a
 * first pass; each fetch compresses again, the same way, and is verified
 * against them), its config bytes kept, each layer checked against the
 * config's `rootfs.diff_ids`.
 *
 * @module
 */
import { computeDigest, Digester } from "../digest.ts";
import { DigestMismatchError, InvalidManifestError, NotFoundError, UsageError } from "../errors.ts";
import type { Descriptor, Manifest, ParsedManifest } from "../manifest.ts";
import { parseManifest } from "../manifest.ts";
import { isIndexMediaType, isManifestMediaType, MediaType } from "../media_types.ts";
import { parseDockerReference } from "../reference.ts";
import type { FetchOptions } from "../remotes/remotes.ts";
import { verifiedFileStream } from "../local/files.ts";
import { blobName, type BlobSource } from "./tar_fetcher.ts";
import { readMember, resolveMember, type TarIndex } from "./tar_index.ts";

/** One entry of `manifest.json`. */
export interface ArchiveEntry {
  /** Member holding the config. */
  Config: string;
  /** Tags of the image, as `docker save` wrote them (`app:1`). */
  RepoTags: string[] | null;
  /** Members holding the layers, base first. */
  Layers: string[];
}

/** An image of the archive, ready to serve. */
export interface ArchiveImage {
  /** The manifest bytes (the archive's own, or made for a legacy image). */
  manifest: ParsedManifest;
  /** Where each blob of it is (by digest). */
  sources: Map<string, BlobSource>;
}

/** The entries of the archive's `manifest.json`. */
export async function readEntries(tar: TarIndex, where: string): Promise<ArchiveEntry[]> {
  let raw: Uint8Array;
  try {
    raw = await readMember(tar, "manifest.json");
  } catch (e) {
    if (e instanceof NotFoundError) {
      throw new NotFoundError(`${where}: no manifest.json (not a docker save archive)`, {
        cause: e,
      });
    }
    throw e;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(raw));
  } catch (e) {
    throw new InvalidManifestError(`${where}: manifest.json is not valid JSON`, { cause: e });
  }
  const ok = Array.isArray(doc) &&
    doc.every((e) =>
      e && typeof e.Config === "string" && Array.isArray(e.Layers) &&
      e.Layers.every((l: unknown) => typeof l === "string") &&
      (e.RepoTags == null || (Array.isArray(e.RepoTags) &&
        e.RepoTags.every((t: unknown) => typeof t === "string")))
    );
  if (!ok) throw new InvalidManifestError(`${where}: manifest.json is not a list of images`);
  return doc as ArchiveEntry[];
}

/**
 * The position of the image `ref` names: a RepoTag matched as Docker
 * matches names (`app:1` is `docker.io/library/app:1`), `@N`, or nothing
 * for the archive's only image.
 *
 * @example
 * ```ts
 * import { pickEntry } from "./docker_archive_source.ts";
 * const entries = [{ Config: "c.json", RepoTags: ["docker.io/library/app:1"], Layers: [] }];
 * console.log(pickEntry(entries, "app:1", "docker-archive:x.tar")); // 0
 * ```
 */
export function pickEntry(entries: ArchiveEntry[], ref: string, where: string): number {
  const describe = () =>
    entries.map((e, i) => e.RepoTags?.length ? e.RepoTags.join(" ") : `@${i}`).join(", ");
  if (ref === "") {
    if (entries.length === 1) return 0;
    if (entries.length === 0) throw new NotFoundError(`${where} holds no image`);
    throw new UsageError(
      `${where} holds ${entries.length} images; name one of them: ${describe()}`,
    );
  }
  const at = /^@(\d+)$/.exec(ref);
  if (at) {
    const n = Number(at[1]);
    if (n < entries.length) return n;
    throw new NotFoundError(`${where} has no image @${n} (it holds ${entries.length})`);
  }
  const wanted = normalisedTag(ref);
  const found = entries.findIndex((e) =>
    (e.RepoTags ?? []).some((t) => normalisedTag(t) === wanted)
  );
  if (found >= 0) return found;
  throw new NotFoundError(`${where} has no image named "${ref}" (images: ${describe()})`);
}

/** A name in Docker's full form with a tag (`app` → `docker.io/library/app:latest`). */
export function normalisedTag(name: string): string | undefined {
  try {
    const r = parseDockerReference(name);
    return r.tag === undefined && r.digest === undefined ? `${r.name}:latest` : r.toString();
  } catch {
    return undefined;
  }
}

/** The image of `entry`: the archive's registry manifest for it, else one made for it. */
export async function loadImage(
  tar: TarIndex,
  entry: ArchiveEntry,
  where: string,
): Promise<ArchiveImage> {
  const configRaw = await readMember(tar, entry.Config);
  const configDigest = computeDigest(configRaw);
  const found = await findManifest(tar, configDigest, entry.Layers.length);
  if (found) return servedAsStored(tar, found, entry, configRaw);
  return await madeForLegacy(tar, entry, configRaw, where);
}

/** Every image manifest the archive holds a registry manifest for, searched for `configDigest`. */
async function findManifest(
  tar: TarIndex,
  configDigest: string,
  layers: number,
): Promise<ParsedManifest | undefined> {
  const matches = (m: ParsedManifest | undefined) =>
    m?.kind === "manifest" && m.manifest.config.digest === configDigest &&
    m.manifest.layers.length === layers;
  // index.json first (Docker 25+, containerd), descending into indexes.
  const seen = new Set<string>();
  const walk = async (descs: Descriptor[], depth: number): Promise<ParsedManifest | undefined> => {
    for (const d of descs) {
      if (seen.has(d.digest) || depth > 4) continue;
      seen.add(d.digest);
      const m = await readBlobManifest(tar, d);
      if (matches(m)) return m;
      if (m?.kind === "index") {
        const inner = await walk(m.index.manifests, depth + 1);
        if (inner) return inner;
      }
    }
  };
  if (tar.members.has("index.json")) {
    const index = parseIndexJson(await readMember(tar, "index.json"));
    const m = await walk(index, 0);
    if (m) return m;
  }
  // Else any small blob whose name is its digest and whose bytes are such a manifest.
  for (const member of tar.members.values()) {
    const digest = /^blobs\/(sha256|sha512)\/([0-9a-f]+)$/.exec(member.name);
    if (!digest || member.size > 1024 * 1024 || member.size < 2) continue;
    const d = { mediaType: "", digest: `${digest[1]}:${digest[2]}`, size: member.size };
    if (seen.has(d.digest)) continue;
    const m = await readBlobManifest(tar, d);
    if (matches(m)) return m;
  }
  return undefined;
}

function parseIndexJson(raw: Uint8Array): Descriptor[] {
  try {
    const doc = JSON.parse(new TextDecoder().decode(raw));
    return Array.isArray(doc?.manifests) ? doc.manifests : [];
  } catch {
    return [];
  }
}

/** The manifest a descriptor names, when its blob is in the archive with that digest. */
async function readBlobManifest(
  tar: TarIndex,
  d: Descriptor,
): Promise<ParsedManifest | undefined> {
  if (d.mediaType && !isManifestMediaType(d.mediaType) && !isIndexMediaType(d.mediaType)) {
    return undefined;
  }
  let raw: Uint8Array;
  try {
    const member = resolveMember(tar, blobName(d.digest));
    if (member.size !== d.size || member.size > 4 * 1024 * 1024) return undefined;
    raw = await readMember(tar, member.name);
  } catch {
    return undefined;
  }
  if (raw[0] !== 0x7b || computeDigest(raw) !== d.digest) return undefined;
  try {
    return parseManifest(raw, d.mediaType || undefined);
  } catch {
    return undefined;
  }
}

/** A registry manifest of the archive: its blobs are where `manifest.json` says. */
function servedAsStored(
  tar: TarIndex,
  m: ParsedManifest,
  entry: ArchiveEntry,
  configRaw: Uint8Array,
): ArchiveImage {
  const manifest = (m as ParsedManifest & { kind: "manifest" }).manifest;
  const sources = new Map<string, BlobSource>();
  sources.set(m.digest, { bytes: m.raw });
  sources.set(manifest.config.digest, { bytes: configRaw });
  manifest.layers.forEach((l, i) => {
    // manifest.json's layer when it is this blob (by size; the digest is checked as it is read),
    // else the blob under its own name.
    let size: number | undefined;
    try {
      size = resolveMember(tar, entry.Layers[i]).size;
    } catch { /* not there: the blob's own name */ }
    sources.set(l.digest, { member: size === l.size ? entry.Layers[i] : blobName(l.digest) });
  });
  return { manifest: m, sources };
}

/**
 * A Docker schema 2 manifest for a legacy image: the config as it is, each
 * layer gzip-compressed (digests from a first pass), checked against
 * `rootfs.diff_ids` while it is read.
 */
async function madeForLegacy(
  tar: TarIndex,
  entry: ArchiveEntry,
  configRaw: Uint8Array,
  where: string,
): Promise<ArchiveImage> {
  let diffIds: unknown;
  try {
    diffIds = JSON.parse(new TextDecoder().decode(configRaw))?.rootfs?.diff_ids;
  } catch (e) {
    throw new InvalidManifestError(`${where}: config ${entry.Config} is not valid JSON`, {
      cause: e,
    });
  }
  if (
    !Array.isArray(diffIds) || diffIds.length !== entry.Layers.length ||
    !diffIds.every((d) => typeof d === "string")
  ) {
    throw new InvalidManifestError(
      `${where}: config ${entry.Config} has ${Array.isArray(diffIds) ? diffIds.length : "no"} ` +
        `diff_ids for ${entry.Layers.length} layers`,
    );
  }
  const sources = new Map<string, BlobSource>();
  const layers: Descriptor[] = [];
  for (const [i, name] of entry.Layers.entries()) {
    const member = resolveMember(tar, name);
    const uncompressed = { digest: diffIds[i] as string, size: member.size };
    const label = `layer ${name} (diff_id ${uncompressed.digest}) in ${where}`;
    const open = (options?: FetchOptions) =>
      compressed(
        verifiedFileStream({ path: tar.path, offset: member.offset, label }, uncompressed, options),
      );
    const digester = new Digester();
    for await (const chunk of await open()) digester.update(chunk);
    const desc = {
      mediaType: MediaType.DockerLayerGzip,
      size: digester.size,
      digest: digester.digest(),
    };
    layers.push(desc);
    sources.set(desc.digest, {
      open: async (d, options) =>
        (await open(options)).pipeThrough(verifying(d, `blob ${d.digest} (${label}, compressed)`)),
    });
  }
  const config = {
    mediaType: MediaType.DockerConfig,
    size: configRaw.byteLength,
    digest: computeDigest(configRaw),
  };
  const doc: Manifest = { schemaVersion: 2, mediaType: MediaType.DockerManifest, config, layers };
  const raw = new TextEncoder().encode(JSON.stringify(doc));
  const manifest = parseManifest(raw, MediaType.DockerManifest);
  sources.set(manifest.digest, { bytes: raw });
  sources.set(config.digest, { bytes: configRaw });
  return { manifest, sources };
}

/** gzip at the default level, as skopeo compresses layers of a legacy archive. */
async function compressed(
  source: Promise<ReadableStream<Uint8Array>>,
): Promise<ReadableStream<Uint8Array>> {
  const gzip = new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
  return (await source).pipeThrough(gzip);
}

function verifying(expected: Descriptor, label: string): TransformStream<Uint8Array, Uint8Array> {
  const d = new Digester();
  return new TransformStream({
    transform(chunk, controller) {
      d.update(chunk);
      if (d.size > expected.size) {
        throw new DigestMismatchError(`${label}: more than ${expected.size} bytes`);
      }
      controller.enqueue(chunk);
    },
    flush() {
      const actual = d.digest();
      if (d.size !== expected.size || actual !== expected.digest) {
        throw new DigestMismatchError(`${label}: got ${actual} (${d.size} bytes)`);
      }
    },
  });
}
