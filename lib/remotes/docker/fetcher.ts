/**
 * Reads manifests and blobs from a registry repository as verified streams.
 * A blob download cut mid-way resumes with a `Range` request from the byte
 * where it stopped (or starts over, discarding what it already passed on, when
 * the registry ignores Range); the digest covers the whole blob either way.
 *
 * @module
 */
import { Digester, parseDigest, verifyDigesterAsync } from "../../digest.ts";
import { DigestMismatchError, DtoolError } from "../../errors.ts";
import type { Descriptor } from "../../manifest.ts";
import { isIndexMediaType, isManifestMediaType, MANIFEST_ACCEPT } from "../../media_types.ts";
import type { Fetcher, FetchOptions } from "../remotes.ts";
import { type RegistryClient, responseError } from "./http.ts";
import { countedBody, offerRawBody, PASSTHROUGH_MIN_SIZE } from "../passthrough.ts";
import { every } from "../../timers.ts";

/** Tuning of a {@linkcode DockerFetcher}. */
export interface DockerFetcherOptions {
  /** Times a cut download is resumed (default 3). */
  resumeTimes?: number;
  /** A read that yields nothing for this long is treated as cut (default 60 s). */
  readTimeoutMs?: number;
}

/**
 * Fetches content from one repository of a registry.
 *
 * @example
 * ```ts
 * import { DockerFetcher } from "./fetcher.ts";
 * import { RegistryClient } from "./http.ts";
 * const f = new DockerFetcher(new RegistryClient({}), "localhost:5000", "team/app");
 * // const stream = await f.fetch({ mediaType: "…", digest: "sha256:…", size: 42 });
 * ```
 */
export class DockerFetcher implements Fetcher {
  /** Registry host (for mounts). */
  readonly host: string;
  /** Repository path (for mounts). */
  readonly repository: string;
  #client: RegistryClient;
  #opts: DockerFetcherOptions;

  /** A fetcher for `host/repository`. */
  constructor(
    client: RegistryClient,
    host: string,
    repository: string,
    opts: DockerFetcherOptions = {},
  ) {
    this.#client = client;
    this.host = host;
    this.repository = repository;
    this.#opts = opts;
  }

  /** The content of `desc`, verified against its size and digest as it flows. */
  async fetch(desc: Descriptor, options: FetchOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const isManifest = isManifestMediaType(desc.mediaType) || isIndexMediaType(desc.mediaType);
    const kind = isManifest ? "manifests" : "blobs";
    const path = `/v2/${this.repository}/${kind}/${desc.digest}`;
    const accept = isManifest ? [desc.mediaType, ...MANIFEST_ACCEPT].join(", ") : undefined;
    const open = async (offset: number, signal: AbortSignal) => {
      const headers: Record<string, string> = {};
      if (accept) headers.accept = accept;
      if (offset > 0) headers.range = `bytes=${offset}-`;
      const res = await this.#client.request({
        host: this.host,
        path,
        headers,
        scope: `repository:${this.repository}:pull`,
        signal: options.signal ? AbortSignal.any([options.signal, signal]) : signal,
      });
      if (!res.ok) throw await responseError(res, `${kind.slice(0, -1)} ${desc.digest}`);
      return res;
    };
    return await verifiedDownload(open, desc, {
      resumeTimes: this.#opts.resumeTimes ?? 3,
      readTimeoutMs: this.#opts.readTimeoutMs ?? 60_000,
      onProgress: options.onProgress,
      onError: options.onError,
      passthrough: !isManifest && desc.size >= PASSTHROUGH_MIN_SIZE,
    });
  }
}

/**
 * One stream that reads a download, hashes it, counts it, and reopens it
 * where it broke off: a single hop per chunk, since each stream stage costs
 * CPU on every chunk of every blob. A watchdog (not a timer per chunk) cuts
 * a response that sends nothing for `readTimeoutMs`.
 */
async function verifiedDownload(
  open: (offset: number, signal: AbortSignal) => Promise<Response>,
  desc: Descriptor,
  opts: {
    resumeTimes: number;
    readTimeoutMs: number;
    onProgress?: (bytes: number) => void;
    onError?: (error: unknown) => void;
    /** Offer the response body unread to a registry pusher (see passthrough.ts). */
    passthrough?: boolean;
  },
): Promise<ReadableStream<Uint8Array>> {
  const digester = new Digester(parseDigest(desc.digest).algorithm, desc.size);
  let abort = new AbortController();
  const first = await open(0, abort.signal);
  // The reader is taken on the first read, so that until then the body can still be handed over.
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let handedOver = false;
  let skip = 0; // bytes of a restarted (non-Range) response to drop
  let resumes = 0;
  // Only time spent waiting on the network counts: a slow consumer is not a stalled server.
  let waitingSince: number | undefined;
  const stop = every(Math.max(10, Math.min(1000, opts.readTimeoutMs / 4)), () => {
    if (waitingSince !== undefined && Date.now() - waitingSince > opts.readTimeoutMs) {
      abort.abort(new DtoolError(`no data for ${opts.readTimeoutMs}ms`));
    }
  });

  const reopen = async (cause: unknown) => {
    const passed = digester.size;
    if (resumes >= opts.resumeTimes || passed >= desc.size) {
      throw new DtoolError(
        `download of ${desc.digest} failed after ${passed} of ${desc.size} bytes: ${
          (cause as Error)?.message ?? cause
        }`,
        undefined,
        { cause },
      );
    }
    resumes++;
    reader?.cancel().catch(() => {});
    abort = new AbortController();
    const res = await open(passed, abort.signal);
    // 206 continues where we stopped; 200 means the registry ignored Range.
    skip = res.status === 206 ? 0 : passed;
    reader = res.body!.getReader();
  };

  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        reader ??= first.body!.getReader();
        for (;;) {
          let result: ReadableStreamReadResult<Uint8Array>;
          waitingSince = Date.now();
          try {
            result = await reader.read();
          } catch (e) {
            await reopen(abort.signal.aborted ? abort.signal.reason : e);
            continue;
          } finally {
            waitingSince = undefined;
          }
          if (result.done) {
            if (digester.size < desc.size && resumes < opts.resumeTimes) {
              await reopen(new DtoolError("connection closed early"));
              continue;
            }
            stop();
            await verifyDigesterAsync(digester, { digest: desc.digest, size: desc.size });
            controller.close();
            return;
          }
          let chunk = result.value;
          if (skip > 0) {
            const drop = Math.min(skip, chunk.byteLength);
            skip -= drop;
            chunk = chunk.subarray(drop);
            if (chunk.byteLength === 0) continue;
          }
          digester.update(chunk);
          if (digester.size > desc.size) {
            throw new DigestMismatchError(
              `size mismatch for ${desc.digest}: more than ${desc.size} bytes`,
            );
          }
          controller.enqueue(chunk);
          opts.onProgress?.(digester.size);
          return;
        }
      } catch (e) {
        stop();
        reader?.cancel().catch(() => {});
        opts.onError?.(e);
        throw e;
      }
    },
    cancel(reason) {
      stop();
      if (handedOver) return; // the body is someone else's now
      return reader ? reader.cancel(reason) : first.body?.cancel(reason);
    },
  }, { highWaterMark: 0 });
  const length = Number(first.headers.get("content-length") ?? NaN);
  if (opts.passthrough && first.status === 200 && length === desc.size && first.body) {
    offerRawBody(stream, () => {
      if (reader || handedOver) return undefined;
      handedOver = true;
      stop();
      // With a progress listener the bytes are counted on their way, not hashed or copied.
      return opts.onProgress ? countedBody(first.body!, opts.onProgress) : first.body!;
    });
  }
  return stream;
}
