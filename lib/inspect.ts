/**
 * Image metadata without pulling layers: the fields of `skopeo inspect`, in
 * its order, plus the platforms of an index.
 *
 * @module
 */
import { NotFoundError } from "./errors.ts";
import type { ParsedManifest } from "./manifest.ts";
import { choosePlatform, formatPlatform, hostPlatform, type Platform } from "./platform.ts";
import { fetchManifest, getManifest, readAll } from "./remotes/manifest_source.ts";
import type { Resolver, TagLister } from "./remotes/remotes.ts";

/** One layer in {@linkcode ImageInfo.LayersData}. */
export interface LayerInfo {
  /** Layer media type. */
  MIMEType: string;
  /** Layer digest. */
  Digest: string;
  /** Layer size in bytes. */
  Size: number;
  /** Layer annotations, or null. */
  Annotations: Record<string, string> | null;
}

/** One child of an index in {@linkcode ImageInfo.Platforms}. */
export interface PlatformInfo {
  /** `os/arch[/variant]`. */
  Platform: string;
  /** Digest of the child manifest. */
  Digest: string;
}

/** What `dtool inspect` prints: skopeo's fields in skopeo's order, then `Platforms`. */
export interface ImageInfo {
  /** Repository name, e.g. `docker.io/library/ubuntu`. */
  Name: string;
  /** Digest of what the reference names (the index, for an index). */
  Digest: string;
  /** Every tag of the repository. */
  RepoTags: string[];
  /** Creation time from the config. */
  Created?: string;
  /** Docker version from the config. */
  DockerVersion: string;
  /** Labels from the config, or null. */
  Labels: Record<string, string> | null;
  /** Architecture from the config. */
  Architecture: string;
  /** Variant from the config, when set. */
  Variant?: string;
  /** OS from the config. */
  Os: string;
  /** Layer digests. */
  Layers: string[];
  /** Layer details. */
  LayersData: LayerInfo[];
  /** Environment from the config. */
  Env: string[] | null;
  /** For an index: every child's platform and digest. */
  Platforms?: PlatformInfo[];
}

/** Options of the inspect functions. */
export interface InspectOptions {
  /** Platform to choose from an index (default: the host's). */
  platform?: Platform;
  /** Tag lister for RepoTags; omit to leave RepoTags empty. */
  tags?: TagLister;
  /** Called with a one-line warning (tags refused…). */
  onWarning?: (message: string) => void;
}

/** The image manifest for a reference, choosing a platform from an index. */
async function resolveImage(
  resolver: Resolver,
  ref: string,
  platform: Platform | undefined,
): Promise<{ top: ParsedManifest; image: ParsedManifest }> {
  const top = await getManifest(resolver, ref);
  if (top.kind === "manifest") return { top, image: top };
  // A platform the user named must be that platform; the host default may fall back.
  const chosen = choosePlatform(top.index, platform ?? hostPlatform(), { strict: !!platform });
  const image = await fetchManifest(await resolver.fetcher(ref), chosen);
  return { top, image };
}

/**
 * The manifest bytes a reference names, exactly as served.
 *
 * @example
 * ```ts
 * import { DockerResolver, inspectRaw } from "../mod.ts";
 * // const bytes = await inspectRaw(new DockerResolver({}), "localhost:5000/app:1");
 * ```
 */
export async function inspectRaw(resolver: Resolver, ref: string): Promise<Uint8Array> {
  return (await getManifest(resolver, ref)).raw;
}

/**
 * The config blob bytes of an image, exactly as stored, after platform choice.
 *
 * @example
 * ```ts
 * import { DockerResolver, inspectConfig } from "../mod.ts";
 * // const config = JSON.parse(new TextDecoder().decode(
 * //   await inspectConfig(new DockerResolver({}), "localhost:5000/app:1")));
 * ```
 */
export async function inspectConfig(
  resolver: Resolver,
  ref: string,
  opts: InspectOptions = {},
): Promise<Uint8Array> {
  const { image } = await resolveImage(resolver, ref, opts.platform);
  if (image.kind !== "manifest") throw new NotFoundError("no image config in a nested index");
  const fetcher = await resolver.fetcher(ref);
  return await readAll(await fetcher.fetch(image.manifest.config), 64 * 1024 * 1024);
}

/**
 * A summary of an image as `skopeo inspect` prints it, plus `Platforms`.
 *
 * @example
 * ```ts
 * import { DockerResolver, inspectImage } from "../mod.ts";
 * // const info = await inspectImage(new DockerResolver({}), "localhost:5000/app:1", "localhost:5000/app");
 * // console.log(info.Architecture);
 * ```
 */
export async function inspectImage(
  resolver: Resolver,
  ref: string,
  name: string,
  opts: InspectOptions = {},
): Promise<ImageInfo> {
  // Tags are listed while the manifest is read; a failure is reported only once the image
  // exists, so a missing image is one error, not two.
  const resolved = resolveImage(resolver, ref, opts.platform);
  const tagsPromise = listTags(opts, ref);
  const { top, image } = await resolved;
  if (image.kind !== "manifest") throw new NotFoundError("no image in a nested index");
  const fetcher = await resolver.fetcher(ref);
  const configBytes = await readAll(await fetcher.fetch(image.manifest.config), 64 * 1024 * 1024);
  const config = JSON.parse(new TextDecoder().decode(configBytes)) as ImageConfig;
  const layers = image.manifest.layers;
  const info: ImageInfo = {
    Name: name,
    Digest: top.digest,
    RepoTags: await tagsOrWarn(opts, tagsPromise),
    Created: config.created,
    DockerVersion: config.docker_version ?? "",
    Labels: config.config?.Labels ?? null,
    Architecture: config.architecture ?? "",
    Variant: config.variant || undefined,
    Os: config.os ?? "",
    Layers: layers.map((l) => l.digest),
    LayersData: layers.map((l) => ({
      MIMEType: l.mediaType,
      Digest: l.digest,
      Size: l.size,
      Annotations: l.annotations ?? null,
    })),
    Env: config.config?.Env ?? null,
  };
  if (top.kind === "index") {
    info.Platforms = top.index.manifests.map((d) => ({
      Platform: d.platform ? formatPlatform(d.platform) : "unknown",
      Digest: d.digest,
    }));
  }
  return info;
}

/** The repository's tags, or why they could not be listed; never rejects. */
function listTags(opts: InspectOptions, ref: string): Promise<string[] | Error> {
  if (!opts.tags) return Promise.resolve([]);
  return opts.tags.listTags(ref).catch((e) => e instanceof Error ? e : new Error(String(e)));
}

async function tagsOrWarn(opts: InspectOptions, tags: Promise<string[] | Error>) {
  const t = await tags;
  if (!(t instanceof Error)) return t;
  opts.onWarning?.(`cannot list tags: ${t.message}`);
  return [];
}

/** The config fields inspect reads. */
interface ImageConfig {
  created?: string;
  docker_version?: string;
  architecture?: string;
  variant?: string;
  os?: string;
  config?: { Labels?: Record<string, string> | null; Env?: string[] | null };
}
