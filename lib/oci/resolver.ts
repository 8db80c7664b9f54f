/**
 * The `oci:` transport: an OCI image layout directory as a
 * {@linkcode Resolver} whose references are the layout's ref names (`""`
 * for the one image of a layout that holds one).
 *
 * @module
 */
import { type Descriptor, parseManifest } from "../manifest.ts";
import { readAll } from "../remotes/manifest_source.ts";
import { isIndexMediaType, isManifestMediaType } from "../media_types.ts";
import type {
  ContentWriter,
  Fetcher,
  FetchOptions,
  Pusher,
  PushOptions,
  ReferrersLister,
  ReferrersOptions,
  Resolved,
  Resolver,
  TaggedDescriptor,
  TagLister,
} from "../remotes/remotes.ts";
import { isDigest } from "../digest.ts";
import { NotFoundError } from "../errors.ts";
import { OciLayout, refName, withRef } from "./layout.ts";
import {
  cachedReader,
  layoutDigestTags,
  layoutReferrers,
  type ReadEntry,
  repositoryPrefix,
} from "./layout_referrers.ts";
import { findRef, refNames } from "./refs.ts";

/**
 * Resolves ref names in the layout at `dir`; a pusher creates the layout
 * when it does not exist yet.
 *
 * @example
 * ```ts
 * import { OciResolver } from "./resolver.ts";
 * const dir = await Deno.makeTempDir();
 * const r = new OciResolver(dir);
 * await r.pusher("1"); // creates an empty layout
 * console.log(await r.listTags()); // []
 * ```
 */
export class OciResolver implements Resolver, TagLister, ReferrersLister {
  /** The layout's directory. */
  readonly dir: string;
  #layout?: Promise<OciLayout>;

  /** A resolver for the layout at `dir`; nothing is read until it is used. */
  constructor(dir: string) {
    this.dir = dir;
  }

  #open(create: boolean): Promise<OciLayout> {
    if (create) {
      this.#layout = OciLayout.open(this.dir, { create: true });
      return this.#layout;
    }
    // A failed open (no layout yet) is not remembered: a pusher may create it.
    return this.#layout ?? OciLayout.open(this.dir);
  }

  /** The manifest `ref` names (a ref name, or `""` for the layout's only image). */
  async resolve(ref: string): Promise<Resolved> {
    const layout = await this.#open(false);
    const descriptor = findRef(await layout.readIndex(), ref || undefined, `oci:${this.dir}`);
    return { name: ref ? `oci:${this.dir}:${ref}` : `oci:${this.dir}`, descriptor };
  }

  /** Reads blobs and manifests of the layout, each verified by digest. */
  async fetcher(_ref?: string): Promise<Fetcher> {
    return new OciFetcher(await this.#open(false));
  }

  /** Writes into the layout (creating it); a root manifest is recorded in `index.json`. */
  async pusher(ref = ""): Promise<Pusher> {
    return new OciPusher(await this.#open(true), repositoryPrefix(ref));
  }

  /**
   * Removes `ref` from `index.json`: a ref name, or a digest (every entry
   * of it). Blobs stay; `umoci gc` or a later copy can collect them.
   */
  async deleteManifest(ref: string): Promise<{ digest?: string; tagOnly: boolean }> {
    const layout = await this.#open(false);
    const byDigest = isDigest(ref);
    const target = byDigest ? undefined : findRef(await layout.readIndex(), ref, `oci:${this.dir}`);
    let removed = 0;
    await layout.updateIndex((entries) => {
      const kept = entries.filter((d) =>
        byDigest
          ? d.digest !== ref
          : !(d.digest === target!.digest && refName(d) === refName(target!))
      );
      removed = entries.length - kept.length;
      return kept;
    });
    if (removed === 0) throw new NotFoundError(`oci:${this.dir} has no image ${ref}`);
    return byDigest ? { digest: ref, tagOnly: false } : { tagOnly: true };
  }

  /** Repositories of a registry-style layout: ref names `<repository>:<tag>`, sorted. */
  async listRepositories(): Promise<string[]> {
    const names = refNames(await (await this.#open(false)).readIndex());
    const repos = names.map((n) => n.lastIndexOf(":") > 0 ? n.slice(0, n.lastIndexOf(":")) : "");
    return [...new Set(repos.filter((r) => r !== ""))].sort();
  }

  /** The layout's ref names, in `index.json` order. */
  async listTags(_ref?: string): Promise<string[]> {
    return refNames(await (await this.#open(false)).readIndex());
  }

  /** Referrers of `subject` among the layout's entries (see `layout_referrers.ts`). */
  async referrers(
    _ref: string,
    subject: string,
    options: ReferrersOptions = {},
  ): Promise<Descriptor[]> {
    const layout = await this.#open(false);
    const read = this.#read ??= cachedReader((d) =>
      layout.readBlob(d).then((s) => readAll(s)).then((raw) => parseManifest(raw, d.mediaType))
    );
    return layoutReferrers(await layout.readIndex(), subject, read, options);
  }
  #read?: ReadEntry;

  /** Ref names in the repository of `ref` that start with the fallback tag of one of `subjects`. */
  async digestTags(ref: string, subjects: readonly string[]): Promise<TaggedDescriptor[]> {
    return layoutDigestTags(await (await this.#open(false)).readIndex(), ref, subjects);
  }
}

/** Reads content of a layout. */
export class OciFetcher implements Fetcher {
  #layout: OciLayout;
  /** A fetcher for `layout`. */
  constructor(layout: OciLayout) {
    this.#layout = layout;
  }
  /** The content of `desc` from `blobs/`, verified as it is read. */
  fetch(desc: Descriptor, options?: FetchOptions): Promise<ReadableStream<Uint8Array>> {
    return this.#layout.readBlob(desc, options);
  }
}

/** Writes content into a layout. */
export class OciPusher implements Pusher {
  #layout: OciLayout;
  #repository: string;
  /**
   * A pusher for `layout`; a tag `t` is written as the ref name
   * `repositoryPrefix + t` (`app:` + `1`), so the tags of one repository of
   * a layout that holds many stay together.
   */
  constructor(layout: OciLayout, repositoryPrefix = "") {
    this.#layout = layout;
    this.#repository = repositoryPrefix;
  }

  /** True when the blob is in `blobs/` with its size (checked by name, as blobs are verified on write). */
  exists(desc: Descriptor): Promise<boolean> {
    return this.#layout.hasBlob(desc);
  }

  /**
   * Writes a blob or manifest; a root manifest (`root`, or with a `tag`)
   * is added to `index.json` once its bytes are in place.
   */
  async push(desc: Descriptor, options: PushOptions = {}): Promise<ContentWriter> {
    const isManifest = isManifestMediaType(desc.mediaType) || isIndexMediaType(desc.mediaType);
    // Roots are found by name, referrers by their subject: both need an index.json entry.
    const recorded = isManifest &&
      (options.root || options.tag !== undefined || options.referrer);
    const present = recorded && await this.#layout.hasBlob(desc);
    const writer = present ? discardingWriter() : await this.#layout.writeBlob(desc, options);
    if (!recorded) return writer;
    return {
      writable: writer.writable,
      commit: async () => {
        await writer.commit();
        const name = options.tag === undefined ? undefined : this.#repository + options.tag;
        await this.#layout.updateIndex((m) => withRef(m, desc, name));
      },
    };
  }
}

/** A writer for bytes the layout already holds (by digest): they are read and dropped. */
function discardingWriter(): ContentWriter {
  return { writable: new WritableStream(), commit: () => Promise.resolve() };
}
