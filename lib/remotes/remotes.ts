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
 * async function pushBytes(p: Pusher, d: Descriptor, bytes: Uint8Array) {
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
