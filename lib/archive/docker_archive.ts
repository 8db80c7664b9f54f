/**
 * The `docker-archive:` transport: what `docker save` writes and
 * `docker load` reads. As a source it reads every form of the format (see
 * `docker_archive_source.ts`); images are named by RepoTag or `@N`. As a
 * destination it writes one format that both `docker load` and OCI tools
 * accept: `manifest.json` (Config, RepoTags, Layers as `blobs/sha256/…`
 * paths), `index.json`, `oci-layout` and the blobs as the source served
 * them, so an image pushed back from the archive keeps its digest.
 *
 * @module
 */
import type { Descriptor } from "../manifest.ts";
import { parseManifest } from "../manifest.ts";
import { isIndexMediaType, MediaType } from "../media_types.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import { parseDockerReference } from "../reference.ts";
import { CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION } from "../oci/layout.ts";
import type {
  Closer,
  Fetcher,
  Pusher,
  PushOptions,
  Resolved,
  Resolver,
  TagLister,
} from "../remotes/remotes.ts";
import {
  type ArchiveEntry,
  type ArchiveImage,
  loadImage,
  pickEntry,
  readEntries,
} from "./docker_archive_source.ts";
import { blobName, TarFetcher } from "./tar_fetcher.ts";
import { indexTar, type TarIndex } from "./tar_index.ts";
import { TarPusher } from "./tar_pusher.ts";
import { TarWriter } from "./tar_writer.ts";

const encoder = new TextEncoder();

/** Options of {@linkcode DockerArchiveResolver}. */
export interface DockerArchiveOptions {
  /** More RepoTags to write for the image besides the destination reference's (`--additional-tag`). */
  additionalTags?: string[];
}

/** An image written into the archive. */
interface WrittenImage {
  desc: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  repoTags: string[];
}

/**
 * Resolves images of the `docker save` archive at `path` by RepoTag
 * (`app:1`, matched as Docker matches names) or position (`@0`); `""`
 * names the archive's only image. As a destination it writes a new archive
 * that replaces any file at `path` only when
 * {@linkcode DockerArchiveResolver.close} is called after the copy;
 * {@linkcode DockerArchiveResolver.discard} drops it instead.
 *
 * @example
 * ```ts ignore
 * import { copyImage, DockerArchiveResolver, DockerResolver } from "../../mod.ts";
 * const dst = new DockerArchiveResolver("/tmp/app.tar", { additionalTags: ["app:latest"] });
 * try {
 *   await copyImage(
 *     { resolver: new DockerResolver({}), ref: "localhost:5000/app:1" },
 *     { resolver: dst, ref: "app:1", tag: "app:1" },
 *   );
 *   await dst.close();
 * } catch (e) {
 *   await dst.discard();
 *   throw e;
 * }
 * ```
 */
export class DockerArchiveResolver implements Resolver, TagLister, Closer {
  /** The archive's path. */
  readonly path: string;
  #options: DockerArchiveOptions;
  #tar?: Promise<TarIndex>;
  #entries?: Promise<ArchiveEntry[]>;
  #images = new Map<number, Promise<ArchiveImage>>();
  #writer?: Promise<TarWriter>;
  #written: WrittenImage[] = [];

  /** A resolver for the archive at `path`; nothing is read until it is used. */
  constructor(path: string, options: DockerArchiveOptions = {}) {
    this.path = path;
    this.#options = options;
  }

  get #where(): string {
    return `docker-archive:${this.path}`;
  }

  #index(): Promise<TarIndex> {
    return this.#tar ??= indexTar(this.path);
  }

  #readEntries(): Promise<ArchiveEntry[]> {
    return this.#entries ??= this.#index().then((tar) => readEntries(tar, this.#where));
  }

  async #image(ref: string): Promise<ArchiveImage> {
    const at = pickEntry(await this.#readEntries(), ref, this.#where);
    let image = this.#images.get(at);
    if (!image) {
      image = this.#index().then(async (tar) =>
        loadImage(tar, (await this.#readEntries())[at], this.#where)
      );
      this.#images.set(at, image);
    }
    return await image;
  }

  /** The manifest of the image `ref` names (made for a legacy archive's image). */
  async resolve(ref: string): Promise<Resolved> {
    if (this.#writer) {
      throw new NotFoundError(`${this.#where}: the archive is being written`);
    }
    const { manifest } = await this.#image(ref);
    const descriptor = {
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.raw.byteLength,
    };
    return { name: ref ? `${this.#where}:${ref}` : this.#where, descriptor };
  }

  /** Reads the blobs of the image `ref` names, each verified by digest. */
  async fetcher(ref = ""): Promise<Fetcher> {
    const image = await this.#image(ref);
    return new TarFetcher(await this.#index(), this.#where, image.sources);
  }

  /** Starts a new archive; the image is recorded in `manifest.json` and `index.json`. */
  async pusher(_ref?: string): Promise<Pusher> {
    this.#writer ??= TarWriter.create(this.path);
    return new TarPusher(await this.#writer, this.#where, {
      accept: (desc, _raw, options) => this.#accept(desc, options),
      written: (desc, raw, options) => this.#record(desc, raw, options),
    });
  }

  #accept(desc: Descriptor, options: PushOptions): void {
    if (isIndexMediaType(desc.mediaType) || !(options.root || options.tag !== undefined)) {
      throw new UsageError(
        `${this.#where}: an archive holds images, not an index: copy one platform (--platform), not --all`,
      );
    }
    repoTags(options.tag, this.#options.additionalTags); // refuses bad names before anything is final
  }

  #record(desc: Descriptor, raw: Uint8Array, options: PushOptions): void {
    const m = parseManifest(raw, desc.mediaType);
    if (m.kind !== "manifest") return;
    const tags = repoTags(options.tag, this.#options.additionalTags);
    // A tag names one image: a later image with it takes it over, as docker load does.
    for (const w of this.#written) w.repoTags = w.repoTags.filter((t) => !tags.includes(t));
    const same = this.#written.find((w) => w.desc.digest === desc.digest);
    if (same) same.repoTags = [...new Set([...same.repoTags, ...tags])];
    else {
      this.#written.push({
        desc: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size },
        config: m.manifest.config,
        layers: m.manifest.layers,
        repoTags: tags,
      });
    }
  }

  /** Every RepoTag of the archive (of the image `ref` names, when it names one), as stored. */
  async listTags(ref = ""): Promise<string[]> {
    const entries = await this.#readEntries();
    const chosen = ref ? [entries[pickEntry(entries, ref, this.#where)]] : entries;
    return [...new Set(chosen.flatMap((e) => e.RepoTags ?? []))];
  }

  /** Writes `manifest.json`, `index.json` and `oci-layout`, ends the archive and moves it into place. */
  async close(): Promise<void> {
    if (!this.#writer) return;
    const writer = await this.#writer;
    if (this.#written.length === 0) {
      await writer.discard();
      throw new NotFoundError(`${this.#where}: nothing was written`);
    }
    const manifestJson = this.#written.map((w) => ({
      Config: blobName(w.config.digest),
      RepoTags: w.repoTags,
      Layers: w.layers.map((l) => blobName(l.digest)),
    }));
    await writer.addBytes("manifest.json", encoder.encode(JSON.stringify(manifestJson)));
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: this.#written.flatMap(indexEntries),
    };
    await writer.addBytes("index.json", encoder.encode(JSON.stringify(index)));
    await writer.addBytes(
      "oci-layout",
      encoder.encode(JSON.stringify({ imageLayoutVersion: "1.0.0" })),
    );
    await writer.finish();
  }

  /** Drops the archive being written; a file already at the path is kept. */
  async discard(): Promise<void> {
    await (await this.#writer?.catch(() => undefined))?.discard();
  }
}

/** The `index.json` entries of an image: one per RepoTag, named as Docker 25+ names them. */
function indexEntries(w: WrittenImage): Descriptor[] {
  if (w.repoTags.length === 0) return [w.desc];
  return w.repoTags.map((t) => {
    const r = parseDockerReference(t);
    return {
      ...w.desc,
      annotations: { [CONTAINERD_NAME_ANNOTATION]: r.toString(), [REF_NAME_ANNOTATION]: r.tag! },
    };
  });
}

/**
 * The RepoTags to write, in Docker's familiar form (`app:1`, `app:latest`
 * for `app`); a name with a digest or an `@N` position is refused.
 *
 * @example
 * ```ts
 * import { repoTags } from "./docker_archive.ts";
 * console.log(repoTags("docker.io/library/app", ["localhost:5000/x:2"])); // ["app:latest", "localhost:5000/x:2"]
 * ```
 */
export function repoTags(tag: string | undefined, additional: string[] = []): string[] {
  const names = [...(tag ? [tag] : []), ...additional];
  return [
    ...new Set(names.map((n) => {
      let r;
      try {
        r = parseDockerReference(n);
      } catch (e) {
        throw new UsageError(
          `docker-archive: "${n}" is not an image name to write: ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      }
      if (r.digest !== undefined) {
        throw new UsageError(`docker-archive: "${n}" has a digest; a RepoTag needs a tag`);
      }
      const familiar = r.familiarString();
      return r.tag === undefined ? `${familiar}:latest` : familiar;
    })),
  ];
}
