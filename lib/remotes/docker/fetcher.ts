/**
 * Reads manifests and blobs from a registry repository as verified streams.
 * A blob download cut mid-way resumes with a `Range` request from the byte
 * where it stopped (or starts over, discarding what it already passed on, when
 * the registry ignores Range); the digest covers the whole blob either way.
 *
 * @module
 */
import { verifyingStream } from "../../digest.ts";
import { DtoolError } from "../../errors.ts";
import type { Descriptor } from "../../manifest.ts";
import { isIndexMediaType, isManifestMediaType, MANIFEST_ACCEPT } from "../../media_types.ts";
import type { Fetcher, FetchOptions } from "../remotes.ts";
import { type RegistryClient, responseError } from "./http.ts";

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
    const open = async (offset: number) => {
      const headers: Record<string, string> = {};
      if (accept) headers.accept = accept;
      if (offset > 0) headers.range = `bytes=${offset}-`;
      const res = await this.#client.request({
        host: this.host,
        path,
        headers,
        scope: `repository:${this.repository}:pull`,
        signal: options.signal,
      });
      if (!res.ok) throw await responseError(res, `${kind.slice(0, -1)} ${desc.digest}`);
      return res;
    };
    const first = await open(0);
    const body = resumable(first, open, desc, {
      resumeTimes: this.#opts.resumeTimes ?? 3,
      readTimeoutMs: this.#opts.readTimeoutMs ?? 60_000,
    });
    return body.pipeThrough(verifyingStream({ digest: desc.digest, size: desc.size }));
  }
}

/** A stream over a response body that reopens the download where it broke off. */
function resumable(
  first: Response,
  open: (offset: number) => Promise<Response>,
  desc: Descriptor,
  opts: { resumeTimes: number; readTimeoutMs: number },
): ReadableStream<Uint8Array> {
  let reader = first.body!.getReader();
  let passed = 0; // bytes handed downstream
  let skip = 0; // bytes of a restarted (non-Range) response to drop
  let resumes = 0;

  const readWithTimeout = async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DtoolError(`no data for ${opts.readTimeoutMs}ms`)),
        opts.readTimeoutMs,
      );
    });
    try {
      return await Promise.race([reader.read(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  const reopen = async (cause: unknown) => {
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
    reader.cancel().catch(() => {});
    const res = await open(passed);
    // 206 continues where we stopped; 200 means the registry ignored Range.
    skip = res.status === 206 ? 0 : passed;
    reader = res.body!.getReader();
  };

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await readWithTimeout();
        } catch (e) {
          await reopen(e);
          continue;
        }
        if (result.done) {
          if (passed < desc.size && resumes < opts.resumeTimes) {
            await reopen(new DtoolError("connection closed early"));
            continue;
          }
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
        passed += chunk.byteLength;
        controller.enqueue(chunk);
        return;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
