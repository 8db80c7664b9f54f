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
  /** The repository the fetcher reads from (for mounts), e.g. `library/ubuntu`. */
  readonly repository?: string;
  /** The registry host the fetcher reads from (for mounts). */
  readonly host?: string;
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
  /**
   * Asks the destination to take a blob from another repository on the same
   * registry without transferring it; false when it would not.
   */
  mount?(desc: Descriptor, fromRepository: string): Promise<boolean>;
  /** The repository the pusher writes to (for mounts), e.g. `library/ubuntu`. */
  readonly repository?: string;
  /** The registry host the pusher writes to (for mounts). */
  readonly host?: string;
}

/** Lists the tags of a repository. */
export interface TagLister {
  /** Every tag, in the registry's order, following every page. */
  listTags(ref: string): Promise<string[]>;
}
