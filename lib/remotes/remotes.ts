/**
 * The interfaces the copy engine moves content through, after containerd's
 * `core/remotes`: a {@linkcode Resolver} turns a reference into a
 * descriptor and hands out a {@linkcode Fetcher} and a {@linkcode Pusher}
 * for it. Registries implement them in `docker/`; local layouts can too.
 *
 * @module
 */
import type { Descriptor } from "../manifest.ts";

/** What a reference currently names. */
export interface Resolved {
  /** The canonical name that was resolved, e.g. `docker.io/library/ubuntu:22.04`. */
  name: string;
  /** The descriptor of the manifest or index it names. */
  descriptor: Descriptor;
}

/**
 * Turns references into descriptors, and gives access to their content.
 *
 * @example
 * ```ts
 * import type { Resolver } from "./remotes.ts";
 * async function digestOf(r: Resolver, ref: string): Promise<string> {
 *   return (await r.resolve(ref)).descriptor.digest;
 * }
 * ```
 */
export interface Resolver {
  /** Finds the descriptor a reference names (HEAD where possible). */
  resolve(ref: string): Promise<Resolved>;
  /** A fetcher for the repository of `ref`. */
  fetcher(ref: string): Promise<Fetcher>;
  /** A pusher for the repository (and tag) of `ref`. */
  pusher(ref: string): Promise<Pusher>;
}

/**
 * Reads content by descriptor.
 *
 * @example
 * ```ts
 * import type { Fetcher } from "./remotes.ts";
 * import type { Descriptor } from "../manifest.ts";
 * async function size(f: Fetcher, d: Descriptor): Promise<number> {
 *   let n = 0;
 *   for await (const chunk of await f.fetch(d)) n += chunk.byteLength;
 *   return n;
 * }
 * ```
 */
export interface Fetcher {
  /**
   * The content as a stream that errors if its size or digest is not the
   * descriptor's; consumers must not commit anything before it closes.
   */
  fetch(desc: Descriptor, options?: FetchOptions): Promise<ReadableStream<Uint8Array>>;
}

/** Options of {@linkcode Fetcher.fetch}. */
export interface FetchOptions {
  /** Aborts the transfer. */
  signal?: AbortSignal;
  /** Told the bytes passed on so far, after each chunk (no extra stream stage needed). */
  onProgress?: (bytes: number) => void;
  /**
   * Told when the download itself fails (the stream then errors with the
   * same error), so a consumer can tell it from a failure of its own.
   */
  onError?: (error: unknown) => void;
}

/**
 * A write in progress: write the bytes to `writable`, then `commit()`,
 * which resolves only once the destination has confirmed the digest.
 */
export interface ContentWriter {
  /** Where the content goes. */
  writable: WritableStream<Uint8Array>;
  /** Completes the write; rejects if the destination did not accept it. */
  commit(): Promise<void>;
  /**
   * Writes all of `source` and completes the write, as piping to `writable`
   * and calling `commit()` would, but handing the stream to the transport
   * as it is (one stream stage less per chunk). Use one way or the other.
   */
  consume?(source: ReadableStream<Uint8Array>): Promise<void>;
}

/** Options of {@linkcode Pusher.push}. */
export interface PushOptions {
  /** For a manifest: the tag to put it under instead of its digest. */
  tag?: string;
  /**
   * For a manifest: it is the one the destination reference names (the
   * root of a copy), not a child of an index. A layout records a root in
   * its `index.json` even without a tag; registries ignore this.
   */
  root?: boolean;
  /**
   * For a manifest: it refers to another (its `subject`), and the
   * descriptor carries its `artifactType` and annotations. A registry
   * without the referrers API gets the fallback tag index updated; a layout
   * records it in `index.json`, untagged.
   */
  referrer?: boolean;
  /** Aborts the transfer. */
  signal?: AbortSignal;
}

/**
 * Writes content by descriptor.
 *
 * @example
 * ```ts
 * import type { Pusher } from "./remotes.ts";
 * import type { Descriptor } from "../manifest.ts";
 * async function pushBytes(p: Pusher, d: Descriptor, bytes: Uint8Array<ArrayBuffer>) {
 *   if (await p.exists(d)) return;
 *   const w = await p.push(d);
 *   await new Blob([bytes]).stream().pipeTo(w.writable);
 *   await w.commit();
 * }
 * ```
 */
export interface Pusher {
  /** True when the destination already holds the content. */
  exists(desc: Descriptor, options?: { signal?: AbortSignal }): Promise<boolean>;
  /** Starts writing the content. */
  push(desc: Descriptor, options?: PushOptions): Promise<ContentWriter>;
}

/**
 * An optional ability of a {@linkcode Pusher}: taking a blob straight from
 * where a fetcher reads it (a cross-repository mount inside one registry)
 * without moving its bytes. The pusher decides whether the source is one it
 * can mount from; the copy engine only asks.
 *
 * @example
 * ```ts
 * import { canMount, type Pusher } from "./remotes.ts";
 * const p: Pusher = { exists: () => Promise.resolve(false), push: () => Promise.reject() };
 * console.log(canMount(p)); // false
 * ```
 */
export interface Mounter {
  /** True when the blob now exists at the destination; false when it could not be mounted. */
  mount(desc: Descriptor, source: Fetcher, options?: { signal?: AbortSignal }): Promise<boolean>;
}

/** True when `p` can mount blobs (see {@linkcode Mounter}). */
export function canMount<P extends object>(p: P): p is P & Mounter {
  return typeof (p as Partial<Mounter>).mount === "function";
}

/**
 * An optional ability of a {@linkcode Resolver}: listing the tags (or ref
 * names) of the repository or layout a reference names.
 */
export interface TagLister {
  /** Every tag, in the store's order, following every page. */
  listTags(ref: string): Promise<string[]>;
}

/**
 * True when `r` can list tags (see {@linkcode TagLister}).
 *
 * @example
 * ```ts
 * import { canListTags } from "./remotes.ts";
 * console.log(canListTags({ listTags: () => Promise.resolve([]) })); // true
 * ```
 */
export function canListTags<R extends object>(r: R): r is R & TagLister {
  return typeof (r as Partial<TagLister>).listTags === "function";
}

/** Options of {@linkcode ReferrersLister.referrers}. */
export interface ReferrersOptions {
  /** Only referrers of these artifact types (all when empty). */
  artifactTypes?: readonly string[];
}

/**
 * An optional ability of a {@linkcode Resolver}: listing the manifests that
 * refer to a manifest (OCI 1.1 referrers), and the tags named after a
 * digest that tools such as cosign use (`sha256-<hex>.sig`).
 */
export interface ReferrersLister {
  /** Descriptors of the manifests whose `subject` is `subject`, in the repository of `ref`. */
  referrers(ref: string, subject: string, options?: ReferrersOptions): Promise<Descriptor[]>;
  /**
   * The tags of the repository of `ref` that start with the fallback tag of
   * one of `subjects` (`sha256-<hex>`, `sha256-<hex>.sig`…), each resolved.
   */
  digestTags(ref: string, subjects: readonly string[]): Promise<TaggedDescriptor[]>;
}

/** A tag and the manifest it names. */
export interface TaggedDescriptor {
  /** The tag. */
  tag: string;
  /** What it names. */
  descriptor: Descriptor;
}

/**
 * True when `r` can list referrers (see {@linkcode ReferrersLister}).
 *
 * @example
 * ```ts
 * import { canListReferrers } from "./remotes.ts";
 * console.log(canListReferrers({})); // false
 * ```
 */
export function canListReferrers<R extends object>(r: R): r is R & ReferrersLister {
  return typeof (r as Partial<ReferrersLister>).referrers === "function" &&
    typeof (r as Partial<ReferrersLister>).digestTags === "function";
}

/**
 * An optional ability of a {@linkcode Pusher}: recording referrers, once
 * all of one subject's have been pushed (a registry without the referrers
 * API keeps them in an index under the subject's fallback tag, and one
 * update per subject costs less than one per referrer).
 */
export interface ReferrersIndexer {
  /** Makes `referrers`, already pushed with `referrer: true`, listable by `subject`. */
  indexReferrers(subject: string, referrers: readonly Descriptor[]): Promise<void>;
}

/**
 * True when `p` records referrers after pushing them (see {@linkcode ReferrersIndexer}).
 *
 * @example
 * ```ts
 * import { canIndexReferrers } from "./remotes.ts";
 * console.log(canIndexReferrers({})); // false
 * ```
 */
export function canIndexReferrers<P extends object>(p: P): p is P & ReferrersIndexer {
  return typeof (p as Partial<ReferrersIndexer>).indexReferrers === "function";
}

/**
 * An optional ability of a {@linkcode Resolver} whose writes become visible
 * only when finished, such as an archive written whole. After a copy into
 * it, call `close()` to make the result appear, or `discard()` after a
 * failure to leave the destination as it was.
 */
export interface Closer {
  /** Completes what was written and makes it visible. */
  close(): Promise<void>;
  /** Drops what was written; the destination stays as it was. */
  discard(): Promise<void>;
}

/**
 * True when `r` must be closed after writing (see {@linkcode Closer}).
 *
 * @example
 * ```ts
 * import { canClose } from "./remotes.ts";
 * const r = { close: () => Promise.resolve(), discard: () => Promise.resolve() };
 * console.log(canClose(r)); // true
 * ```
 */
export function canClose<R extends object>(r: R): r is R & Closer {
  return typeof (r as Partial<Closer>).close === "function" &&
    typeof (r as Partial<Closer>).discard === "function";
}
