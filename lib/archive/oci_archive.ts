/**
 * The `oci-archive:` transport: an OCI image layout (`oci-layout`,
 * `index.json`, `blobs/<alg>/<hex>`) inside a tar file. Reading indexes the
 * tar once and serves each blob as a verified byte range of it; refs are
 * found exactly as in an `oci:` layout. Writing streams a new archive once
 * (no staging directory) and makes it appear at `close()`.
 *
 * @module
 */
import { type Descriptor, parseManifest } from "../manifest.ts";
import { InvalidManifestError, NotFoundError } from "../errors.ts";
import { MediaType } from "../media_types.ts";
import { withRef } from "../oci/layout.ts";
import { findRef, refNames } from "../oci/refs.ts";
import type {
  Closer,
  Fetcher,
  Pusher,
  PushOptions,
  ReferrersLister,
  ReferrersOptions,
  Resolved,
  Resolver,
  TaggedDescriptor,
  TagLister,
} from "../remotes/remotes.ts";
import { readAll } from "../remotes/manifest_source.ts";
import {
  cachedReader,
  layoutDigestTags,
  layoutReferrers,
  type ReadEntry,
} from "../oci/layout_referrers.ts";
import { TarFetcher } from "./tar_fetcher.ts";
import { indexTar, readMember, type TarIndex } from "./tar_index.ts";
import { TarPusher } from "./tar_pusher.ts";
import { TarWriter } from "./tar_writer.ts";

const encoder = new TextEncoder();

/**
 * Resolves ref names in the OCI layout archived at `path`. As a
 * destination it writes a new archive, which replaces any file at `path`
 * only when {@linkcode OciArchiveResolver.close} is called after the copy;
 * {@linkcode OciArchiveResolver.discard} drops it instead.
 *
 * @example
 * ```ts ignore
 * import { copyImage, DockerResolver, OciArchiveResolver } from "../../mod.ts";
 * const dst = new OciArchiveResolver("/tmp/app.tar");
 * try {
 *   await copyImage(
 *     { resolver: new DockerResolver({}), ref: "localhost:5000/app:1" },
 *     { resolver: dst, ref: "1", tag: "1" },
 *   );
 *   await dst.close();
 * } catch (e) {
 *   await dst.discard();
 *   throw e;
 * }
 * ```
 */
export class OciArchiveResolver implements Resolver, TagLister, ReferrersLister, Closer {
  /** The archive's path. */
  readonly path: string;
  #index?: Promise<TarIndex>;
  #entries?: Promise<Descriptor[]>;
  #writer?: Promise<TarWriter>;
  #written: Descriptor[] = [];

  /** A resolver for the archive at `path`; nothing is read until it is used. */
  constructor(path: string) {
    this.path = path;
  }

  get #where(): string {
    return `oci-archive:${this.path}`;
  }

  #tar(): Promise<TarIndex> {
    return this.#index ??= indexTar(this.path);
  }

  /** The entries of the archive's `index.json` (or, once writing, of the one being written). */
  #manifests(): Promise<Descriptor[]> {
    if (this.#writer) return Promise.resolve(this.#written);
    return this.#entries ??= this.#tar().then(async (tar) => {
      const text = new TextDecoder().decode(await readMember(tar, "index.json"));
      let doc: { manifests?: unknown };
      try {
        doc = JSON.parse(text);
      } catch (e) {
        throw new InvalidManifestError(`${this.#where}: index.json is not valid JSON`, {
          cause: e,
        });
      }
      if (!Array.isArray(doc?.manifests)) {
        throw new InvalidManifestError(`${this.#where}: index.json has no manifests list`);
      }
      return doc.manifests as Descriptor[];
    });
  }

  /** The manifest `ref` names (a ref name, or `""` for the archive's only image). */
  async resolve(ref: string): Promise<Resolved> {
    const descriptor = findRef(await this.#manifests(), ref || undefined, this.#where);
    return { name: ref ? `${this.#where}:${ref}` : this.#where, descriptor };
  }

  /** Reads blobs of the archive, each verified by digest. */
  async fetcher(_ref?: string): Promise<Fetcher> {
    return new TarFetcher(await this.#tar(), this.#where);
  }

  /** Starts a new archive; a root manifest is recorded in its `index.json`. */
  async pusher(_ref?: string): Promise<Pusher> {
    this.#writer ??= TarWriter.create(this.path).then(async (w) => {
      await w.addBytes(
        "oci-layout",
        encoder.encode(JSON.stringify({ imageLayoutVersion: "1.0.0" })),
      );
      return w;
    });
    const writer = await this.#writer;
    return new TarPusher(writer, this.#where, {
      written: (desc: Descriptor, _raw: Uint8Array, options: PushOptions) => {
        // Roots are found by name, referrers by their subject: both need an index.json entry.
        if (options.root || options.tag !== undefined || options.referrer) {
          this.#written = withRef(this.#written, desc, options.tag);
        }
      },
    });
  }

  /** Referrers of `subject` among the archive's entries, as in an `oci:` layout. */
  async referrers(
    _ref: string,
    subject: string,
    options: ReferrersOptions = {},
  ): Promise<Descriptor[]> {
    const fetcher = await this.fetcher();
    this.#read ??= cachedReader(async (d) =>
      parseManifest(await readAll(await fetcher.fetch(d)), d.mediaType)
    );
    return layoutReferrers(await this.#manifests(), subject, this.#read, options);
  }
  #read?: ReadEntry;

  /** Ref names in the repository of `ref` that start with the fallback tag of one of `subjects`. */
  async digestTags(ref: string, subjects: readonly string[]): Promise<TaggedDescriptor[]> {
    return layoutDigestTags(await this.#manifests(), ref, subjects);
  }

  /** The archive's ref names, in `index.json` order. */
  async listTags(_ref?: string): Promise<string[]> {
    return refNames(await this.#manifests());
  }

  /** Writes `index.json`, ends the archive and moves it into place. */
  async close(): Promise<void> {
    if (!this.#writer) return;
    const writer = await this.#writer;
    if (this.#written.length === 0) {
      await writer.discard();
      throw new NotFoundError(`${this.#where}: nothing was written`);
    }
    const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: this.#written };
    await writer.addBytes("index.json", encoder.encode(JSON.stringify(index)));
    await writer.finish();
  }

  /** Drops the archive being written; a file already at the path is kept. */
  async discard(): Promise<void> {
    await (await this.#writer?.catch(() => undefined))?.discard();
  }
}
