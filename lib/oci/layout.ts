/**
 * An OCI image layout on disk (image-spec `image-layout.md`): the
 * `oci-layout` marker, `index.json`, and content under `blobs/<alg>/<hex>`.
 * This module is the one owner of a layout's files: blobs become visible by
 * rename once verified, and `index.json` is replaced atomically under an
 * exclusive lock, so concurrent writers never lose each other's refs.
 *
 * @module
 */
import { joinPath as join, parentDir as dirname } from "../path.ts";
import { parseDigest } from "../digest.ts";
import {
  DigestMismatchError,
  DtoolError,
  InvalidManifestError,
  NotFoundError,
  UsageError,
} from "../errors.ts";
import type { Descriptor, Index } from "../manifest.ts";
import { MediaType } from "../media_types.ts";
import type { ContentWriter, FetchOptions } from "../remotes/remotes.ts";
import {
  sweepTemporary,
  temporaryPath,
  verifiedFileStream,
  verifiedFileWriter,
  writeFileAtomic,
} from "../local/files.ts";

/** The annotation that names a manifest in `index.json` (its "tag"). */
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";
/** The annotation containerd and nerdctl put the full image name in. */
export const CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name";

const LAYOUT_FILE = "oci-layout";
const INDEX_FILE = "index.json";
const LAYOUT_VERSION = "1.0.0";

/** Options of {@linkcode OciLayout.open}. */
export interface OpenLayoutOptions {
  /** Create the directory and an empty layout when there is none. */
  create?: boolean;
}

/**
 * A layout directory: read and write blobs, read and update `index.json`.
 *
 * @example
 * ```ts
 * import { OciLayout } from "./layout.ts";
 * const dir = await Deno.makeTempDir();
 * const layout = await OciLayout.open(dir, { create: true });
 * console.log((await layout.readIndex()).length); // 0
 * ```
 */
export class OciLayout {
  /** The layout's directory. */
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Opens the layout at `dir`; with `create`, makes it when missing.
   * Fails with {@linkcode NotFoundError} when there is no layout there.
   */
  static async open(dir: string, options: OpenLayoutOptions = {}): Promise<OciLayout> {
    const layout = new OciLayout(dir);
    const marker = join(dir, LAYOUT_FILE);
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(marker);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new DtoolError(`cannot read ${marker}: ${(e as Error).message}`, undefined, {
          cause: e,
        });
      }
    }
    if (text === undefined) {
      if (!options.create) {
        throw new NotFoundError(`no OCI layout at ${dir} (${LAYOUT_FILE} is missing)`);
      }
      await layout.#create();
      return layout;
    }
    let version: unknown;
    try {
      version = JSON.parse(text).imageLayoutVersion;
    } catch {
      version = undefined;
    }
    if (typeof version !== "string" || !version.startsWith("1.")) {
      throw new UsageError(`${marker}: unsupported imageLayoutVersion ${JSON.stringify(version)}`);
    }
    return layout;
  }

  async #create(): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    const marker = join(this.dir, LAYOUT_FILE);
    // Written whole under a temporary name, then hard-linked into place: a concurrent reader
    // never sees an empty marker, and a second creator's link fails instead of replacing the
    // file (its inode is what the layout lock holds).
    const tmp = temporaryPath(this.dir);
    try {
      await Deno.writeTextFile(tmp, JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }));
      await Deno.link(tmp, marker);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
    // Under the lock, so a concurrent creator's first ref is not overwritten by an empty index.
    await this.#withLock(async () => {
      try {
        await Deno.stat(join(this.dir, INDEX_FILE));
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        await writeFileAtomic(join(this.dir, INDEX_FILE), encodeIndex([]));
      }
    });
  }

  /** The path of a blob, e.g. `DIR/blobs/sha256/<hex>`. */
  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.dir, "blobs", algorithm, hex);
  }

  /** True when the blob is present with the descriptor's size. */
  async hasBlob(desc: Pick<Descriptor, "digest" | "size">): Promise<boolean> {
    try {
      const info = await Deno.stat(this.blobPath(desc.digest));
      return info.isFile && info.size === desc.size;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }

  /** A blob's bytes as a stream verified against the descriptor. */
  readBlob(desc: Descriptor, options: FetchOptions = {}): Promise<ReadableStream<Uint8Array>> {
    return verifiedFileStream(
      { path: this.blobPath(desc.digest), label: `blob ${desc.digest} in ${this.dir}` },
      desc,
      options,
    );
  }

  /**
   * Starts writing a blob: it appears under `blobs/` only once `commit()`
   * has verified its size and digest. Stale temporary files of interrupted
   * writes are swept first.
   */
  async writeBlob(
    desc: Descriptor,
    options: { signal?: AbortSignal } = {},
  ): Promise<ContentWriter> {
    await this.#sweepOnce();
    return verifiedFileWriter(this.dir, this.blobPath(desc.digest), desc, {
      label: `blob ${desc.digest}`,
      signal: options.signal,
    });
  }

  #swept = false;
  async #sweepOnce(): Promise<void> {
    if (this.#swept) return;
    this.#swept = true;
    await sweepTemporary(this.dir);
  }

  /** The manifests `index.json` lists, in its order. */
  async readIndex(): Promise<Descriptor[]> {
    const path = join(this.dir, INDEX_FILE);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
    let doc: Partial<Index>;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new InvalidManifestError(`${path} is not valid JSON: ${(e as Error).message}`);
    }
    if (!doc || !Array.isArray(doc.manifests)) {
      throw new InvalidManifestError(`${path} has no manifests list`);
    }
    return doc.manifests;
  }

  /**
   * Replaces `index.json` with what `update` makes of its current entries,
   * under an exclusive lock (two processes updating one layout both keep
   * their refs) and atomically (a reader never sees half a file).
   */
  async updateIndex(update: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
    await this.#withLock(async () => {
      const next = update(await this.readIndex());
      await writeFileAtomic(join(this.dir, INDEX_FILE), encodeIndex(next));
    });
  }

  /**
   * A fresh temporary path inside the layout for content being received in
   * pieces (a registry upload session); an abandoned one is swept like any
   * interrupted write. Make it a blob with {@linkcode OciLayout.adoptBlob}.
   */
  temporaryBlobPath(): string {
    return temporaryPath(this.dir);
  }

  /**
   * Makes a file written at {@linkcode OciLayout.temporaryBlobPath} the blob
   * `desc` by rename. The caller has hashed it; its size is checked here.
   */
  async adoptBlob(path: string, desc: Pick<Descriptor, "digest" | "size">): Promise<void> {
    const info = await Deno.stat(path);
    if (info.size !== desc.size) {
      throw new DigestMismatchError(
        `blob ${desc.digest}: expected ${desc.size} bytes, the file has ${info.size}`,
      );
    }
    const final = this.blobPath(desc.digest);
    await Deno.mkdir(dirname(final), { recursive: true });
    await Deno.rename(path, final);
  }

  /** Removes a blob's file; true when there was one. */
  async removeBlob(digest: string): Promise<boolean> {
    try {
      await Deno.remove(this.blobPath(digest));
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }

  /**
   * A JSON file a tool keeps beside `index.json` (e.g. dtool serve's record
   * of which repository holds what); `undefined` when there is none.
   */
  async readSidecar<S>(name: string): Promise<S | undefined> {
    const path = this.#sidecarPath(name);
    try {
      return JSON.parse(await Deno.readTextFile(path)) as S;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw new InvalidManifestError(`${path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Updates `index.json` and a sidecar JSON file under the one lock: the
   * sidecar is replaced first, then the index, each atomically. `update`
   * may do other work that must not race with other writers (checks,
   * {@linkcode OciLayout.adoptBlob}, {@linkcode OciLayout.removeBlob}).
   */
  async updateWithSidecar<S, T>(
    name: string,
    update: (
      manifests: Descriptor[],
      sidecar: S | undefined,
    ) => Promise<{ manifests?: Descriptor[]; sidecar?: S; result: T }>,
  ): Promise<T> {
    return await this.#withLock(async () => {
      const next = await update(await this.readIndex(), await this.readSidecar<S>(name));
      if (next.sidecar !== undefined) {
        await writeFileAtomic(
          this.#sidecarPath(name),
          new TextEncoder().encode(JSON.stringify(next.sidecar)),
        );
      }
      if (next.manifests !== undefined) {
        await writeFileAtomic(join(this.dir, INDEX_FILE), encodeIndex(next.manifests));
      }
      return next.result;
    });
  }

  /**
   * Changes whenever `index.json` or the sidecar `name` is replaced (their
   * inode, size and time), so readers can cache what they derive from them.
   */
  async stamp(name: string): Promise<string> {
    const one = async (path: string) => {
      try {
        const i = await Deno.stat(path);
        return `${i.ino}:${i.size}:${i.mtime?.getTime()}`;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return "-";
        throw e;
      }
    };
    return `${await one(join(this.dir, INDEX_FILE))}/${await one(this.#sidecarPath(name))}`;
  }

  #sidecarPath(name: string): string {
    if (!/^[a-z0-9][a-z0-9._-]*\.json$/.test(name) || name === INDEX_FILE) {
      throw new UsageError(`invalid sidecar name ${JSON.stringify(name)}`);
    }
    return join(this.dir, name);
  }

  /** Runs `fn` holding an exclusive lock on the layout (flock on `oci-layout`). */
  async #withLock<T>(fn: () => Promise<T>): Promise<T> {
    const file = await Deno.open(join(this.dir, LAYOUT_FILE), { read: true });
    try {
      await file.lock(true);
      return await fn();
    } finally {
      file.close(); // closing releases the lock
    }
  }
}

/**
 * `index.json` entries with `ref` as their ref name replaced by `desc`
 * (named `ref`); without `ref`, `desc` is added unnamed unless an unnamed
 * entry already has its digest. Every other entry is kept, in order.
 *
 * @example
 * ```ts
 * import { withRef } from "./layout.ts";
 * const d = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: "sha256:" + "a".repeat(64), size: 2 };
 * console.log(withRef([], d, "1")[0].annotations); // { "org.opencontainers.image.ref.name": "1" }
 * ```
 */
export function withRef(manifests: Descriptor[], desc: Descriptor, ref?: string): Descriptor[] {
  const plain: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
  if (desc.artifactType) plain.artifactType = desc.artifactType;
  if (desc.platform) plain.platform = desc.platform;
  if (ref === undefined) {
    const has = manifests.some((m) => m.digest === desc.digest && !refName(m));
    // A referrer keeps its annotations, so the entry serves as its listing.
    const { [REF_NAME_ANNOTATION]: _, ...annotations } = desc.annotations ?? {};
    if (Object.keys(annotations).length) plain.annotations = annotations;
    return has ? manifests : [...manifests, plain];
  }
  const kept = manifests.filter((m) => refName(m) !== ref);
  return [...kept, { ...plain, annotations: { ...desc.annotations, [REF_NAME_ANNOTATION]: ref } }];
}

/** The ref name of an `index.json` entry, if it has one. */
export function refName(d: Descriptor): string | undefined {
  return d.annotations?.[REF_NAME_ANNOTATION];
}

function encodeIndex(manifests: Descriptor[]): Uint8Array {
  const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
  return new TextEncoder().encode(JSON.stringify(index));
}
