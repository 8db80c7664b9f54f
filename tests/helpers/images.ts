/**
 * Test image fixtures built without dtool and pushed with skopeo.
 *
 * Images are assembled in memory (random gzip'd tar layers, real image configs, OCI or Docker
 * schema 2 manifests, OCI indexes / Docker manifest lists), written as a skopeo `dir:` layout
 * (`manifest.json`, `<hex>.manifest.json` per list instance, blobs named by hex digest,
 * `version`) and copied with `skopeo copy --all --preserve-digests`. skopeo 1.9.3 pushes a
 * `dir:` layout byte-for-byte, whatever the media type; every push is verified by reading the
 * manifest back and comparing bytes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { TestRegistry } from "./registry.ts";
import { skopeo, skopeoInspectRaw } from "./skopeo.ts";

/** OCI and Docker media types used by the fixtures. */
export const MediaTypes = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

/** A pushed image, index or manifest list, as served by the registry. */
export interface Fixture {
  /** `"127.0.0.1:PORT/repo:tag"`. */
  ref: string;
  /** `sha256:...` of `raw`. */
  digest: string;
  /** Manifest bytes served by the registry (identical to the bytes built). */
  raw: Uint8Array;
  /** Manifest media type. */
  mediaType: string;
  /** For indexes / manifest lists: the child manifests in order. */
  children?: { platform: string; digest: string }[];
  /** For single images: platform string (`os/arch[/variant]`). */
  platform?: string;
  /** For single images: the config blob. */
  config?: { digest: string; raw: Uint8Array; mediaType: string };
  /** For single images: the layer blobs (compressed digest/size and uncompressed diff_id). */
  layers?: { digest: string; size: number; diffId: string; mediaType: string }[];
  /** For indexes / lists: full child image details (same order as `children`). */
  images?: BuiltImage[];
}

/** Options for single-image fixtures. */
export interface ImageOptions {
  /** Number of layers (default 2). */
  layers?: number;
  /** Random payload bytes per layer (default 1024). */
  layerSize?: number;
  /** `os/arch[/variant]` (default `linux/amd64`). */
  platform?: string;
}

/** A built (not yet pushed) single-platform image. */
export interface BuiltImage {
  format: "oci" | "docker";
  platform: string;
  manifest: Uint8Array;
  mediaType: string;
  digest: string;
  config: { digest: string; raw: Uint8Array; mediaType: string };
  layers: { digest: string; size: number; diffId: string; mediaType: string }[];
  /** All blobs (config + layers) keyed by digest. */
  blobs: Map<string, Uint8Array>;
}

/** A built (not yet pushed) OCI index or Docker manifest list. */
export interface BuiltIndex {
  format: "oci" | "docker";
  manifest: Uint8Array;
  mediaType: string;
  digest: string;
  images: BuiltImage[];
}

const enc = new TextEncoder();

/** `sha256:<hex>` of bytes. */
export function sha256Digest(b: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(b).digest("hex");
}

/** Parses `os/arch[/variant]`. */
export function parsePlatform(p: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = p.split("/");
  if (!os || !architecture) throw new Error(`bad platform ${p}`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** A ustar header for one regular file `name` of `size` bytes. */
export function tarHeader(name: string, size: number, mtime = 1700000000): Uint8Array {
  if (enc.encode(name).length > 99) throw new Error("tar name too long");
  const h = new Uint8Array(512);
  const put = (s: string, off: number) => h.set(enc.encode(s), off);
  const oct = (n: number, width: number) => n.toString(8).padStart(width - 1, "0") + "\0";
  put(name, 0);
  put(oct(0o644, 8), 100); // mode
  put(oct(0, 8), 108); // uid
  put(oct(0, 8), 116); // gid
  put(oct(size, 12), 124); // size
  put(oct(mtime, 12), 136); // mtime
  put("        ", 148); // checksum placeholder (spaces)
  put("0", 156); // typeflag: regular file
  put("ustar\0", 257);
  put("00", 263);
  put("root", 265);
  put("root", 297);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return h;
}

/**
 * A minimal valid ustar archive holding one regular file `name` with `data`
 * (512-byte header, data padded to 512, two zero end blocks).
 */
export function makeTar(name: string, data: Uint8Array, mtime = 1700000000): Uint8Array {
  const h = tarHeader(name, data.length, mtime);
  const out = new Uint8Array(512 + Math.ceil(data.length / 512) * 512 + 1024);
  out.set(h, 0);
  out.set(data, 512);
  return out;
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}

function json(v: unknown): Uint8Array {
  // Pretty-printed on purpose: catches tools that re-serialize manifests instead of keeping bytes.
  return enc.encode(JSON.stringify(v, null, 2));
}

/** Builds a single-platform image in memory (random layers, real config, manifest). */
export function buildImage(format: "oci" | "docker", opts: ImageOptions = {}): BuiltImage {
  const platform = opts.platform ?? "linux/amd64";
  const p = parsePlatform(platform);
  const nLayers = opts.layers ?? 2;
  const size = opts.layerSize ?? 1024;
  const created = "2024-01-01T00:00:00Z";
  const docker = format === "docker";
  const blobs = new Map<string, Uint8Array>();
  const layers: BuiltImage["layers"] = [];
  const history: Record<string, unknown>[] = [];
  for (let i = 0; i < nLayers; i++) {
    const tar = makeTar(`layer-${i}.bin`, randomBytes(size));
    const gz = new Uint8Array(gzipSync(tar));
    const digest = sha256Digest(gz);
    blobs.set(digest, gz);
    layers.push({
      digest,
      size: gz.length,
      diffId: sha256Digest(tar),
      mediaType: docker ? MediaTypes.dockerLayerGzip : MediaTypes.ociLayerGzip,
    });
    history.push({ created, created_by: `dtool-test: add layer-${i}.bin`, comment: "fixture" });
  }
  const configObj = {
    created,
    author: "dtool tests",
    architecture: p.architecture,
    os: p.os,
    ...(p.variant ? { variant: p.variant } : {}),
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "DTOOL_TEST=1"],
      Cmd: ["/bin/sh"],
      WorkingDir: "/",
      Labels: { "org.dtool.test": "true", "org.dtool.test.platform": platform },
    },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history,
  };
  const configRaw = json(configObj);
  const config = {
    digest: sha256Digest(configRaw),
    raw: configRaw,
    mediaType: docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig,
  };
  blobs.set(config.digest, configRaw);
  const mediaType = docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest;
  const manifest = json({
    schemaVersion: 2,
    mediaType,
    config: { mediaType: config.mediaType, size: configRaw.length, digest: config.digest },
    layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
  });
  return {
    format,
    platform,
    manifest,
    mediaType,
    digest: sha256Digest(manifest),
    config,
    layers,
    blobs,
  };
}

/** Builds an OCI index / Docker manifest list over freshly built images for `platforms`. */
export function buildIndex(
  format: "oci" | "docker",
  platforms: string[],
  opts: Omit<ImageOptions, "platform"> = {},
): BuiltIndex {
  const images = platforms.map((platform) => buildImage(format, { ...opts, platform }));
  const mediaType = format === "docker" ? MediaTypes.dockerManifestList : MediaTypes.ociIndex;
  const manifest = json({
    schemaVersion: 2,
    mediaType,
    manifests: images.map((img) => ({
      mediaType: img.mediaType,
      size: img.manifest.length,
      digest: img.digest,
      platform: parsePlatform(img.platform),
    })),
  });
  return { format, manifest, mediaType, digest: sha256Digest(manifest), images };
}

/** Writes a skopeo `dir:` layout for an image or index into `dir`. */
export async function writeDirLayout(dir: string, built: BuiltImage | BuiltIndex): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const hex = (d: string) => d.slice("sha256:".length);
  const images = "images" in built ? built.images : [built];
  for (const img of images) {
    for (const [d, b] of img.blobs) await Deno.writeFile(`${dir}/${hex(d)}`, b);
    if ("images" in built) {
      await Deno.writeFile(`${dir}/${hex(img.digest)}.manifest.json`, img.manifest);
    }
  }
  await Deno.writeFile(`${dir}/manifest.json`, built.manifest);
  await Deno.writeTextFile(`${dir}/version`, "Directory Transport Version: 1.1\n");
}

function eqBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Pushes a built image/index to `reg` as `repoTag` (`"repo:tag"`) with
 * `skopeo copy --all --preserve-digests dir:... docker://...`, then reads the manifest back and
 * throws unless the registry serves exactly the built bytes.
 */
export async function pushBuilt(
  reg: TestRegistry,
  repoTag: string,
  built: BuiltImage | BuiltIndex,
): Promise<Fixture> {
  const ref = `${reg.host}/${repoTag}`;
  const tmp = await Deno.makeTempDir({ prefix: "dtool-fixture-" });
  try {
    await writeDirLayout(tmp, built);
    const creds = reg.auth ? [`--dest-creds=${reg.auth.username}:${reg.auth.password}`] : [];
    await skopeo([
      "copy",
      "--quiet",
      "--all",
      "--preserve-digests",
      "--dest-tls-verify=false",
      ...creds,
      `dir:${tmp}`,
      `docker://${ref}`,
    ]);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  const raw = await skopeoInspectRaw(ref, {
    creds: reg.auth ? `${reg.auth.username}:${reg.auth.password}` : undefined,
  });
  if (!eqBytes(raw, built.manifest)) {
    throw new Error(
      `registry serves different manifest bytes for ${ref}: built ${built.digest}, got ` +
        sha256Digest(raw),
    );
  }
  const fx: Fixture = { ref, digest: sha256Digest(raw), raw, mediaType: built.mediaType };
  if ("images" in built) {
    fx.children = built.images.map((i) => ({ platform: i.platform, digest: i.digest }));
    fx.images = built.images;
  } else {
    fx.platform = built.platform;
    fx.config = built.config;
    fx.layers = built.layers;
  }
  return fx;
}

/** Default platforms for multi-arch fixtures. */
export const DEFAULT_PLATFORMS = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"];

/** Pushes a single-platform OCI image (OCI manifest/config/layer media types). */
export function pushOciImage(
  reg: TestRegistry,
  repoTag: string,
  opts: ImageOptions = {},
): Promise<Fixture> {
  return pushBuilt(reg, repoTag, buildImage("oci", opts));
}

/** Pushes a single-platform Docker schema 2 image (Docker manifest/config/layer media types). */
export function pushDockerImage(
  reg: TestRegistry,
  repoTag: string,
  opts: ImageOptions = {},
): Promise<Fixture> {
  return pushBuilt(reg, repoTag, buildImage("docker", opts));
}

/** Pushes an OCI image index over OCI images for `platforms`. */
export function pushOciIndex(
  reg: TestRegistry,
  repoTag: string,
  platforms: string[] = DEFAULT_PLATFORMS,
  opts: Omit<ImageOptions, "platform"> = {},
): Promise<Fixture> {
  return pushBuilt(reg, repoTag, buildIndex("oci", platforms, opts));
}

/** Pushes a Docker manifest list over Docker schema 2 images for `platforms`. */
export function pushDockerManifestList(
  reg: TestRegistry,
  repoTag: string,
  platforms: string[] = DEFAULT_PLATFORMS,
  opts: Omit<ImageOptions, "platform"> = {},
): Promise<Fixture> {
  return pushBuilt(reg, repoTag, buildIndex("docker", platforms, opts));
}
