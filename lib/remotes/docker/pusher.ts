/**
 * Writes blobs and manifests to a registry repository. Blobs go up as a
 * POST that opens an upload session and one streamed PUT that closes it with
 * the digest; the registry checks the digest before it answers 201.
 *
 * @module
 */
import { computeDigest, parseDigest } from "../../digest.ts";
import { DigestMismatchError, DtoolError, NotFoundError, TransientError } from "../../errors.ts";
import { type Descriptor, MAX_MANIFEST_BYTES, parseManifest } from "../../manifest.ts";
import { subjectOf } from "../../referrers.ts";
import { sleep } from "../../retry.ts";
import { addToFallbackIndex } from "./referrers.ts";
import { isIndexMediaType, isManifestMediaType } from "../../media_types.ts";
import type {
  ContentWriter,
  Fetcher,
  Mounter,
  Pusher,
  PushOptions,
  ReferrersIndexer,
} from "../remotes.ts";
import { DockerFetcher } from "./fetcher.ts";
import { isRetryableStatus, type RegistryClient, responseError } from "./http.ts";
import { repositoryScope } from "./scope.ts";
import { takeRawBody } from "../passthrough.ts";

/** Tuning of a {@linkcode DockerPusher}. */
export interface DockerPusherOptions {
  /** Upload blobs in chunks of this many bytes (PATCH) instead of one streamed PUT. */
  chunkSize?: number;
  /** Times a failed chunk is resumed from what the registry reports it has (default 3). */
  chunkRetries?: number;
  /**
   * A repository of the same registry blobs will be mounted from: every
   * token asked for covers pulling from it too, so one token serves the copy.
   */
  mountFrom?: string;
}

/**
 * Pushes content to one repository of a registry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DockerPusher } from "./pusher.ts";
 * import { RegistryClient } from "./http.ts";
 * const p = new DockerPusher(new RegistryClient({}), "localhost:5000", "team/app");
 * assert.deepEqual(p.repository, "team/app");
 * ```
 */
export class DockerPusher implements Pusher, Mounter, ReferrersIndexer {
  /** Registry host. */
  readonly host: string;
  /** Repository path. */
  readonly repository: string;
  #client: RegistryClient;
  /** Upload sessions a refused mount opened, reused by the next push of that blob. */
  #sessions = new Map<string, { location: string; minChunk: number }>();
  #opts: DockerPusherOptions;

  /** A pusher for `host/repository`. */
  constructor(
    client: RegistryClient,
    host: string,
    repository: string,
    opts: DockerPusherOptions = {},
  ) {
    this.#client = client;
    this.host = host;
    this.repository = repository;
    this.#opts = opts;
  }

  #scope(mountFrom = this.#opts.mountFrom): string {
    return repositoryScope(this.repository, { push: true, mountFrom });
  }

  /** True when the repository holds the blob or manifest (one HEAD). */
  async exists(desc: Descriptor, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const kind = isManifest(desc) ? "manifests" : "blobs";
    const res = await this.#client.request({
      host: this.host,
      method: "HEAD",
      path: `/v2/${this.repository}/${kind}/${desc.digest}`,
      headers: isManifest(desc) ? { accept: desc.mediaType } : {},
      scope: this.#scope(),
      signal: options.signal,
    });
    await res.body?.cancel();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await responseError(res, `${kind.slice(0, -1)} ${desc.digest}`);
  }

  /**
   * Mounts a blob from the repository `source` reads, when that is another
   * repository of this registry; false (and no request) otherwise, or when
   * the registry refused.
   */
  async mount(
    desc: Descriptor,
    source: Fetcher,
    options: { signal?: AbortSignal } = {},
  ): Promise<boolean> {
    if (!(source instanceof DockerFetcher) || source.host !== this.host) return false;
    const fromRepository = source.repository;
    if (fromRepository === this.repository) return false;
    const q = new URLSearchParams({ mount: desc.digest, from: fromRepository });
    const res = await this.#client.request({
      host: this.host,
      method: "POST",
      path: `/v2/${this.repository}/blobs/uploads/?${q}`,
      scope: this.#scope(fromRepository),
      signal: options.signal,
    });
    await res.body?.cancel();
    if (res.status === 201) return true;
    if (res.status === 202) {
      const location = res.headers.get("location");
      if (location) this.#sessions.set(desc.digest, { location, minChunk: minChunkOf(res) });
      return false;
    }
    throw await responseError(res, `mount of ${desc.digest} from ${fromRepository}`);
  }

  /** Referrers pushed without the registry indexing them: digest → subject. */
  #unindexed = new Map<string, string>();

  /**
   * Adds referrers pushed to this repository to the fallback tag index of
   * `subject`, unless the registry indexed them itself (`OCI-Subject`).
   */
  async indexReferrers(subject: string, referrers: readonly Descriptor[]): Promise<void> {
    const todo = referrers.filter((d) => this.#unindexed.get(d.digest) === subject);
    if (todo.length === 0) return;
    await addToFallbackIndex(
      {
        client: this.#client,
        host: this.host,
        repository: this.repository,
        scope: this.#scope(),
      },
      subject,
      todo,
    );
    for (const d of todo) this.#unindexed.delete(d.digest);
  }

  /** Starts writing a blob, or a manifest (under `options.tag` or its digest). */
  push(desc: Descriptor, options: PushOptions = {}): Promise<ContentWriter> {
    return isManifest(desc) ? this.#pushManifest(desc, options) : this.#pushBlob(desc, options);
  }

  async #pushBlob(desc: Descriptor, options: PushOptions): Promise<ContentWriter> {
    let session = this.#sessions.get(desc.digest);
    this.#sessions.delete(desc.digest);
    if (!session) {
      const res = await this.#client.request({
        host: this.host,
        method: "POST",
        path: `/v2/${this.repository}/blobs/uploads/`,
        scope: this.#scope(),
        signal: options.signal,
      });
      await res.body?.cancel();
      const location = res.headers.get("location") ?? undefined;
      if (res.status !== 202 || !location) {
        throw await responseError(
          res,
          `upload of ${this.#what(desc)}`,
        );
      }
      session = { location, minChunk: minChunkOf(res) };
    }
    return this.#opts.chunkSize
      ? this.#chunkedWriter(desc, session, options)
      : this.#streamedWriter(desc, session.location, options);
  }

  /** One streamed PUT carrying the whole blob and its digest. */
  #streamedWriter(desc: Descriptor, location: string, options: PushOptions): ContentWriter {
    let done: Promise<void> | undefined;
    let writable: WritableStream<Uint8Array> | undefined;
    const start = (body: ReadableStream<Uint8Array>) => {
      if (done) throw new DtoolError(`upload of ${desc.digest} was already started`);
      // A registry source's body goes straight out, unread; the registry checks its digest.
      const sent = takeRawBody(body) ?? body;
      done = this.#client.request({
        host: this.host,
        method: "PUT",
        url: withDigest(location, desc.digest),
        headers: { "content-type": "application/octet-stream" },
        body: sent,
        scope: this.#scope(),
        signal: options.signal,
      }).then(
        (res) => this.#checkCommitted(res, desc, { streamed: true }),
        (e) => {
          // The body went with the request: nothing below can send it again. A request that
          // failed before reading it (authorization, the endpoint) lets it go here.
          if (!sent.locked) sent.cancel(e).catch(() => {});
          const reason = e instanceof Error ? e.message : String(e);
          throw new TransientError(`upload of ${this.#what(desc)} failed: ${reason}`, {
            cause: e,
          });
        },
      ).catch(async (e) => {
        await this.#cancelUpload(location);
        throw e;
      });
      done.catch(() => {}); // reported by commit() or consume()
      return done;
    };
    return {
      get writable() {
        if (!writable) {
          const pipe = new TransformStream<Uint8Array, Uint8Array>();
          start(pipe.readable);
          writable = pipe.writable;
        }
        return writable;
      },
      commit: () =>
        done ?? Promise.reject(new DtoolError(`upload of ${desc.digest} never started`)),
      consume: (source) => start(source),
    };
  }

  /** Ends an upload session that failed, so the registry need not keep it until its purge. */
  async #cancelUpload(location: string): Promise<void> {
    try {
      const res = await this.#client.request({
        host: this.host,
        method: "DELETE",
        url: location,
        scope: this.#scope(),
        idempotent: false,
      });
      await res.body?.cancel();
    } catch {
      // Best effort: the registry purges abandoned uploads by itself.
    }
  }

  /** `sha256:… to host/repository`, for messages. */
  #what(desc: Descriptor): string {
    return `${desc.digest} to ${this.host}/${this.repository}`;
  }

  async #checkCommitted(
    res: Response,
    desc: Descriptor,
    opts: { streamed?: boolean } = {},
  ): Promise<void> {
    if (res.status !== 201) {
      const e = await responseError(res, `upload of ${this.#what(desc)}`);
      // The registry hashed what it received and it is not the digest: the bytes that came
      // (unread, see passthrough.ts) were not the content. Like a mismatch found by the
      // fetcher, that is worth fetching again.
      if (res.status === 400 && /digest invalid/i.test(e.message)) {
        throw new DigestMismatchError(`${e.message} (the source sent other bytes)`, { cause: e });
      }
      // A streamed body was never retried by the HTTP layer: a 5xx may pass on a new try.
      if (opts.streamed && isRetryableStatus(res.status)) {
        throw new TransientError(e.message, { cause: e });
      }
      throw e;
    }
    await res.body?.cancel();
    const echoed = res.headers.get("docker-content-digest");
    if (echoed && echoed !== desc.digest) {
      throw new DigestMismatchError(`registry stored ${echoed} for ${desc.digest}`);
    }
  }

  /**
   * PATCHes of at most `chunkSize` bytes (at least the registry's
   * OCI-Chunk-Min-Length), then a PUT with the digest. A chunk that fails
   * is resumed from the offset the registry reports for the session, so a
   * failure costs at most one chunk, held in memory until it is confirmed.
   */
  #chunkedWriter(
    desc: Descriptor,
    session: { location: string; minChunk: number },
    options: PushOptions,
  ): ContentWriter {
    const size = Math.max(this.#opts.chunkSize ?? 0, session.minChunk, 1);
    let location = session.location;
    let offset = 0; // bytes the registry has confirmed
    let buf = new Uint8Array(size);
    let fill = 0;
    let settle!: (e?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (e) => e === undefined ? resolve() : reject(e);
    });
    done.catch(() => {});
    const send = async (chunk: Uint8Array) => {
      const r = await this.#sendChunk(desc, location, offset, chunk, options.signal);
      location = r.location;
      offset = r.offset;
    };
    const writable = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        try {
          for (let at = 0; at < chunk.byteLength;) {
            const n = Math.min(size - fill, chunk.byteLength - at);
            buf.set(chunk.subarray(at, at + n), fill);
            fill += n;
            at += n;
            if (fill === size) {
              await send(buf);
              buf = new Uint8Array(size);
              fill = 0;
            }
          }
        } catch (e) {
          settle(e);
          throw e;
        }
      },
      close: async () => {
        try {
          if (fill > 0) await send(buf.subarray(0, fill));
          const res = await this.#client.request({
            host: this.host,
            method: "PUT",
            url: withDigest(location, desc.digest),
            scope: this.#scope(),
            signal: options.signal,
          });
          try {
            await this.#checkCommitted(res, desc);
          } catch (e) {
            // A retried PUT whose first try committed finds no session: the blob is there.
            if (!(e instanceof NotFoundError && await this.exists(desc))) throw e;
          }
          settle();
        } catch (e) {
          await this.#cancelUpload(location);
          settle(e);
          throw e;
        }
      },
      abort: async (reason) => {
        await this.#cancelUpload(location);
        settle(reason ?? new DtoolError(`upload of ${desc.digest} aborted`));
      },
    });
    return { writable, commit: () => done };
  }

  /** Sends one chunk, resuming from the registry's own count after a failure. */
  async #sendChunk(
    desc: Descriptor,
    location: string,
    offset: number,
    chunk: Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<{ location: string; offset: number }> {
    const retries = this.#opts.chunkRetries ?? 3;
    let pending = chunk;
    let at = offset;
    let loc = location;
    for (let attempt = 0;; attempt++) {
      let failure: unknown;
      try {
        const res = await this.#client.request({
          host: this.host,
          method: "PATCH",
          url: loc,
          headers: {
            "content-type": "application/octet-stream",
            "content-range": `${at}-${at + pending.byteLength - 1}`,
          },
          body: pending,
          scope: this.#scope(),
          signal,
          idempotent: false,
        });
        if (res.status === 202) {
          await res.body?.cancel();
          return { location: res.headers.get("location") ?? loc, offset: at + pending.byteLength };
        }
        failure = await responseError(
          res,
          `upload of ${this.#what(desc)} at byte ${at}`,
        );
        // 416: the registry's offset is not ours; its upload status says where to go on from.
        if (!isRetryableStatus(res.status) && res.status !== 416) throw failure;
      } catch (e) {
        if (signal?.aborted || failure === e) throw e;
        failure ??= e;
      }
      if (attempt >= retries) throw failure;
      // Ask the registry how much of the blob it holds, and go on from there.
      const status = await this.#client.request({
        host: this.host,
        url: loc,
        scope: this.#scope(),
        signal,
      });
      await status.body?.cancel();
      if (status.status !== 204) throw failure;
      loc = status.headers.get("location") ?? loc;
      const end = rangeEnd(status.headers.get("range"));
      // distribution says "0-0" for both 0 and 1 byte: at the start, assume nothing arrived
      // (resending a byte twice fails the digest check and retries the blob; skipping it would too).
      const have = end === 0 && at === 0 ? 0 : end + 1;
      if (have < at || have > at + pending.byteLength) throw failure; // lost what we no longer hold
      pending = pending.subarray(have - at);
      at = have;
      if (pending.byteLength === 0) return { location: loc, offset: at };
    }
  }

  #pushManifest(desc: Descriptor, options: PushOptions): Promise<ContentWriter> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const writable = new WritableStream<Uint8Array>({
      write(chunk) {
        size += chunk.byteLength;
        if (size > MAX_MANIFEST_BYTES) throw new DtoolError(`manifest ${desc.digest} is too large`);
        chunks.push(chunk);
      },
    });
    const commit = async () => {
      const bytes = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) {
        bytes.set(c, at);
        at += c.byteLength;
      }
      const actual = computeDigest(bytes, parseDigest(desc.digest).algorithm);
      if (actual !== desc.digest) {
        throw new DigestMismatchError(`manifest digest mismatch: ${actual} != ${desc.digest}`);
      }
      const reference = options.tag ?? desc.digest;
      let res: Response;
      for (let attempt = 1;; attempt++) {
        res = await this.#client.request({
          host: this.host,
          method: "PUT",
          path: `/v2/${this.repository}/manifests/${reference}`,
          headers: { "content-type": desc.mediaType },
          body: bytes,
          scope: this.#scope(),
          signal: options.signal,
        });
        if (res.status === 201 || res.status === 200) break;
        const err = await responseError(res, `manifest ${this.repository}:${reference}`);
        // Every blob was confirmed before this PUT, so "blob unknown" is the registry still
        // linking a blob that another client pushed at the same moment (distribution writes
        // a repository's blob link in place): ask again shortly, a few times.
        if (!err.codes?.includes("MANIFEST_BLOB_UNKNOWN") || attempt >= 4) throw err;
        await sleep(100 * attempt, options.signal);
      }
      await res.body?.cancel();
      const echoed = res.headers.get("docker-content-digest");
      if (echoed && echoed !== desc.digest) {
        throw new DigestMismatchError(`registry stored manifest ${echoed} for ${desc.digest}`);
      }
      // A registry with the referrers API says it indexed the subject; else the index under
      // the fallback tag is ours to keep, once for all of a subject's referrers.
      if (options.referrer && !res.headers.has("oci-subject")) {
        const subject = subjectOf(parseManifest(bytes, desc.mediaType));
        if (subject) this.#unindexed.set(desc.digest, subject);
      }
    };
    return Promise.resolve({ writable, commit });
  }
}

function isManifest(desc: Descriptor): boolean {
  return isManifestMediaType(desc.mediaType) || isIndexMediaType(desc.mediaType);
}

function withDigest(location: string, digest: string): string {
  const url = new URL(location, "http://placeholder/");
  url.searchParams.set("digest", digest);
  return /^https?:/i.test(location) ? url.href : url.pathname + url.search;
}

/** The registry's smallest accepted chunk (OCI-Chunk-Min-Length), or 0. */
function minChunkOf(res: Response): number {
  const n = Number(res.headers.get("oci-chunk-min-length") ?? 0);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** The last byte index of an upload status `Range: 0-N` header; -1 when none. */
function rangeEnd(range: string | null): number {
  const m = range?.match(/^(?:bytes=)?0-(\d+)$/);
  return m ? Number(m[1]) : -1;
}
