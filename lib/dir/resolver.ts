/**
 * The `dir:` transport, as skopeo 1.9 reads and writes it: a directory with
 * a `version` file, the root manifest as `manifest.json`, each child manifest
 * of an index as `<hex>.manifest.json`, and every blob as `<hex>`.
 *
 * Writing is safe where skopeo's is not: skopeo empties the directory first,
 * dtool writes new files beside the old (each verified, then renamed into
 * place), replaces `manifest.json` last, and only then removes the files
 * of the previous image. A failed copy leaves the previous image readable.
 *
 * @module
 */
import { joinPath as join } from "../path.ts";
import { parseDigest } from "../digest.ts";
import { DtoolError, NotFoundError, UsageError } from "../errors.ts";
import { type Descriptor, MAX_MANIFEST_BYTES, parseManifest } from "../manifest.ts";
import { isIndexMediaType, isManifestMediaType } from "../media_types.ts";
import {
  sweepTemporary,
  verifiedFileStream,
  verifiedFileWriter,
  writeFileAtomic,
} from "../local/files.ts";
import { readAll } from "../remotes/manifest_source.ts";
import type {
  ContentWriter,
  Fetcher,
  FetchOptions,
  Pusher,
  PushOptions,
  Resolved,
  Resolver,
} from "../remotes/remotes.ts";

/** What skopeo writes to `version`; dtool reads 1.0 and 1.1. */
const VERSION_TEXT = "Directory Transport Version: 1.1\n";
const ROOT = "manifest.json";
const VERSION = "version";

/**
 * Resolves the one image of a `dir:` directory (its reference is always `""`).
 *
 * @example
 * ```ts
 * import { DirResolver } from "./resolver.ts";
 * const dir = await Deno.makeTempDir();
 * const pusher = await new DirResolver(`${dir}/image`).pusher();
 * console.log(await Deno.readTextFile(`${dir}/image/version`)); // "Directory Transport Version: 1.1\n"
 * void pusher;
 * ```
 */
export class DirResolver implements Resolver {
  /** The directory. */
  readonly dir: string;

  /** A resolver for the directory `dir`; nothing is read until it is used. */
  constructor(dir: string) {
    this.dir = dir;
  }

  /** The root manifest: `manifest.json`, named by its digest. */
  async resolve(_ref?: string): Promise<Resolved> {
    await checkVersion(this.dir);
    const raw = await readSmall(join(this.dir, ROOT), `dir:${this.dir}`);
    const m = parseManifest(raw);
    return {
      name: `dir:${this.dir}`,
      descriptor: { mediaType: m.mediaType, digest: m.digest, size: raw.byteLength },
    };
  }

  /** Reads the directory's files by digest, each verified. */
  async fetcher(_ref?: string): Promise<Fetcher> {
    await checkVersion(this.dir);
    const root = await this.resolve().then((r) => r.descriptor.digest, () => undefined);
    return new DirFetcher(this.dir, root);
  }

  /**
   * Writes an image into the directory, creating it and its parents. A
   * non-empty directory that is not a `dir:` image is refused, as skopeo
   * refuses it, so nothing of the user's is overwritten.
   */
  async pusher(_ref?: string): Promise<Pusher> {
    await prepareDestination(this.dir);
    return new DirPusher(this.dir);
  }
}

/** The file a descriptor is stored in. */
function fileOf(dir: string, desc: Descriptor, root: string | undefined): string {
  const { hex } = parseDigest(desc.digest);
  if (desc.digest === root) return join(dir, ROOT);
  return join(dir, isManifest(desc) ? `${hex}.manifest.json` : hex);
}

/** Reads content of a `dir:` image. */
class DirFetcher implements Fetcher {
  #dir: string;
  #root: string | undefined;
  constructor(dir: string, root: string | undefined) {
    this.#dir = dir;
    this.#root = root;
  }
  async fetch(desc: Descriptor, options?: FetchOptions): Promise<ReadableStream<Uint8Array>> {
    let path = fileOf(this.#dir, desc, this.#root);
    // A single image copied out of an index names its manifest by digest but stores it as the root.
    if (isManifest(desc) && !await exists(path)) {
      const plain = join(this.#dir, parseDigest(desc.digest).hex);
      path = await exists(plain) ? plain : join(this.#dir, ROOT);
    }
    return verifiedFileStream({ path, label: `${desc.digest} in dir:${this.#dir}` }, desc, options);
  }
}

/** Writes an image into a `dir:` directory; the root last, then old files go. */
class DirPusher implements Pusher {
  #dir: string;
  /** Files of the image being written: everything else goes once the root is in place. */
  #keep = new Set([VERSION, ROOT]);
  constructor(dir: string) {
    this.#dir = dir;
  }

  async exists(desc: Descriptor): Promise<boolean> {
    const path = fileOf(this.#dir, desc, undefined);
    const info = await Deno.stat(path).catch(() => undefined);
    const present = info?.isFile === true && info.size === desc.size;
    if (present) this.#keep.add(relative(path));
    return present;
  }

  async push(desc: Descriptor, options: PushOptions = {}): Promise<ContentWriter> {
    const root = isManifest(desc) && (options.root || options.tag !== undefined);
    if (!root) {
      const path = fileOf(this.#dir, desc, undefined);
      this.#keep.add(relative(path));
      return await verifiedFileWriter(this.#dir, path, desc, {
        label: `${desc.digest}`,
        signal: options.signal,
      });
    }
    // The root goes to a temporary name first, and replaces manifest.json by rename.
    const writer = await verifiedFileWriter(this.#dir, join(this.#dir, ROOT), desc, {
      label: `manifest ${desc.digest}`,
      signal: options.signal,
    });
    return {
      writable: writer.writable,
      commit: async () => {
        await writer.commit();
        await this.#removeOthers();
      },
    };
  }

  /** Removes what the previous image left: files that are not part of this one. */
  async #removeOthers(): Promise<void> {
    for await (const entry of Deno.readDir(this.#dir)) {
      if (!entry.isFile || this.#keep.has(entry.name) || entry.name.startsWith(".dtool-")) continue;
      await Deno.remove(join(this.#dir, entry.name)).catch(() => {});
    }
  }
}

function relative(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function isManifest(desc: Descriptor): boolean {
  return isManifestMediaType(desc.mediaType) || isIndexMediaType(desc.mediaType);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function readSmall(path: string, where: string): Promise<Uint8Array> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new NotFoundError(`${where} has no ${ROOT}`);
    throw e;
  }
  return await readAll(file.readable, MAX_MANIFEST_BYTES);
}

async function checkVersion(dir: string): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(dir, VERSION));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new NotFoundError(`dir:${dir} is not an image directory (no ${VERSION} file)`);
    }
    throw e;
  }
  if (!/^Directory Transport Version: 1\.[01]\n?$/.test(text)) {
    throw new UsageError(`dir:${dir}: unsupported version ${JSON.stringify(text.trim())}`);
  }
}

async function prepareDestination(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    // Parents too (skopeo sync makes them; skopeo copy would refuse, for no gain).
    await Deno.mkdir(dir, { recursive: true });
    entries = [];
  }
  if (entries.length > 0 && !entries.includes(VERSION)) {
    throw new UsageError(
      `dir:${dir} is not empty and not an image directory; refusing to overwrite it`,
    );
  }
  if (entries.includes(VERSION)) await checkVersion(dir);
  await sweepTemporary(dir);
  await writeFileAtomic(join(dir, VERSION), new TextEncoder().encode(VERSION_TEXT)).catch(
    (e) => {
      throw new DtoolError(`dir:${dir}: cannot write ${VERSION}: ${(e as Error).message}`);
    },
  );
}
