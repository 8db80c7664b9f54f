/**
 * An in-memory transport: content in a map by digest, tags in a map by
 * name. It implements the same interfaces as the registry and layouts, so
 * the copy engine's unit tests run on it, and library users can test their
 * own code without a registry.
 *
 * @module
 */
import { Digester, isDigest, parseDigest, verifyDigester } from "../digest.ts";
import { DtoolError, NotFoundError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import { parseManifest } from "../manifest.ts";
import { isIndexMediaType, isManifestMediaType } from "../media_types.ts";
import type {
  ContentWriter,
  Fetcher,
  FetchOptions,
  Mounter,
  Pusher,
  PushOptions,
  Resolved,
  Resolver,
  TagLister,
} from "../remotes/remotes.ts";

/** What a {@linkcode MemoryResolver} holds. */
export interface MemoryStore {
  /** Content (blobs and manifests) by digest. */
  content: Map<string, Uint8Array>;
  /** Media types of manifests by digest. */
  mediaTypes: Map<string, string>;
  /** Tag → manifest digest. */
  tags: Map<string, string>;
}

/**
 * An empty store.
 *
 * @example
 * ```ts
 * import { memoryStore } from "./resolver.ts";
 * console.log(memoryStore().tags.size); // 0
 * ```
 */
export function memoryStore(): MemoryStore {
  return { content: new Map(), mediaTypes: new Map(), tags: new Map() };
}

/**
 * Resolves tags (or digests) in a {@linkcode MemoryStore}.
 *
 * @example
 * ```ts
 * import { MemoryResolver, memoryStore } from "./resolver.ts";
 * const r = new MemoryResolver(memoryStore());
 * console.log(await r.listTags()); // []
 * ```
 */
export class MemoryResolver implements Resolver, TagLister {
  /** The store read and written. */
  readonly store: MemoryStore;

  /** A resolver over `store`. */
  constructor(store: MemoryStore = memoryStore()) {
    this.store = store;
  }

  /** The manifest a tag or digest names. */
  resolve(ref: string): Promise<Resolved> {
    const digest = isDigest(ref) ? ref : this.store.tags.get(ref);
    const raw = digest ? this.store.content.get(digest) : undefined;
    if (!digest || !raw) return Promise.reject(new NotFoundError(`manifest unknown: ${ref}`));
    const mediaType = this.store.mediaTypes.get(digest) ?? parseManifest(raw).mediaType;
    return Promise.resolve({ name: ref, descriptor: { mediaType, digest, size: raw.byteLength } });
  }

  /** Reads the store. */
  fetcher(_ref?: string): Promise<Fetcher> {
    return Promise.resolve(new MemoryFetcher(this.store));
  }

  /** Writes the store. */
  pusher(_ref?: string): Promise<Pusher> {
    return Promise.resolve(new MemoryPusher(this.store));
  }

  /** Every tag, sorted. */
  listTags(_ref?: string): Promise<string[]> {
    return Promise.resolve([...this.store.tags.keys()].sort());
  }
}

/** Reads content of a store, verified against the descriptor. */
export class MemoryFetcher implements Fetcher {
  /** The store read. */
  readonly store: MemoryStore;
  /** A fetcher over `store`. */
  constructor(store: MemoryStore) {
    this.store = store;
  }
  /** The content of `desc`; the stream errors when it does not match. */
  fetch(desc: Descriptor, options: FetchOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const bytes = this.store.content.get(desc.digest);
    if (!bytes) return Promise.reject(new NotFoundError(`${desc.digest}: not found`));
    const digester = new Digester(parseDigest(desc.digest).algorithm);
    let sent = false;
    return Promise.resolve(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          try {
            options.signal?.throwIfAborted();
            if (!sent) {
              sent = true;
              digester.update(bytes);
              controller.enqueue(bytes.slice());
              options.onProgress?.(digester.size);
              return;
            }
            verifyDigester(digester, desc);
            controller.close();
          } catch (e) {
            options.onError?.(e);
            throw e;
          }
        },
      }, { highWaterMark: 0 }),
    );
  }
}

/** Writes content into a store; blobs of the same store mount for free. */
export class MemoryPusher implements Pusher, Mounter {
  /** The store written. */
  readonly store: MemoryStore;
  /** A pusher over `store`. */
  constructor(store: MemoryStore) {
    this.store = store;
  }

  /** True when the store holds the content. */
  exists(desc: Descriptor): Promise<boolean> {
    return Promise.resolve(this.store.content.has(desc.digest));
  }

  /** True when `source` reads this same store (the content is shared). */
  mount(desc: Descriptor, source: Fetcher): Promise<boolean> {
    const same = source instanceof MemoryFetcher && source.store === this.store;
    return Promise.resolve(same && this.store.content.has(desc.digest));
  }

  /** Collects the bytes; commit verifies them, stores them, and moves a tag last. */
  push(desc: Descriptor, options: PushOptions = {}): Promise<ContentWriter> {
    const chunks: Uint8Array[] = [];
    const digester = new Digester(parseDigest(desc.digest).algorithm);
    const writable = new WritableStream<Uint8Array>({
      write(chunk) {
        options.signal?.throwIfAborted();
        digester.update(chunk);
        chunks.push(chunk.slice());
      },
    });
    const store = this.store;
    return Promise.resolve({
      writable,
      commit() {
        try {
          verifyDigester(digester, desc);
        } catch (e) {
          return Promise.reject(e);
        }
        const bytes = new Uint8Array(digester.size);
        let at = 0;
        for (const c of chunks) {
          bytes.set(c, at);
          at += c.byteLength;
        }
        store.content.set(desc.digest, bytes);
        if (isManifestMediaType(desc.mediaType) || isIndexMediaType(desc.mediaType)) {
          store.mediaTypes.set(desc.digest, desc.mediaType);
          if (options.tag !== undefined) store.tags.set(options.tag, desc.digest);
        } else if (options.tag !== undefined) {
          return Promise.reject(new DtoolError(`cannot tag blob ${desc.digest}`));
        }
        return Promise.resolve();
      },
    });
  }
}
