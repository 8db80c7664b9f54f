/**
 * Writes blobs and manifests to a registry repository. Blobs go up as a
 * POST that opens an upload session and one streamed PUT that closes it with
 * the digest; the registry checks the digest before it answers 201.
 *
 * @module
 */
import { computeDigest, parseDigest } from "../../digest.ts";
import { DigestMismatchError, DtoolError } from "../../errors.ts";
import { type Descriptor, MAX_MANIFEST_BYTES } from "../../manifest.ts";
import { isIndexMediaType, isManifestMediaType } from "../../media_types.ts";
import type { ContentWriter, Pusher, PushOptions } from "../remotes.ts";
import { type RegistryClient, responseError } from "./http.ts";

/**
 * Pushes content to one repository of a registry.
 *
 * @example
 * ```ts
 * import { DockerPusher } from "./pusher.ts";
 * import { RegistryClient } from "./http.ts";
 * const p = new DockerPusher(new RegistryClient({}), "localhost:5000", "team/app");
 * console.log(p.repository); // "team/app"
 * ```
 */
export class DockerPusher implements Pusher {
  /** Registry host. */
  readonly host: string;
  /** Repository path. */
  readonly repository: string;
  #client: RegistryClient;
  /** Upload sessions a refused mount opened, reused by the next push of that blob. */
  #sessions = new Map<string, string>();

  /** A pusher for `host/repository`. */
  constructor(client: RegistryClient, host: string, repository: string) {
    this.#client = client;
    this.host = host;
    this.repository = repository;
  }

  #scope(extra?: string): string {
    const own = `repository:${this.repository}:pull,push`;
    return extra ? `${own} ${extra}` : own;
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

  /** Mounts a blob from another repository of the same registry; false if refused. */
  async mount(desc: Descriptor, fromRepository: string): Promise<boolean> {
    const q = new URLSearchParams({ mount: desc.digest, from: fromRepository });
    const res = await this.#client.request({
      host: this.host,
      method: "POST",
      path: `/v2/${this.repository}/blobs/uploads/?${q}`,
      scope: this.#scope(`repository:${fromRepository}:pull`),
    });
    await res.body?.cancel();
    if (res.status === 201) return true;
    if (res.status === 202) {
      const location = res.headers.get("location");
      if (location) this.#sessions.set(desc.digest, location);
      return false;
    }
    throw await responseError(res, `mount of ${desc.digest} from ${fromRepository}`);
  }

  /** Starts writing a blob, or a manifest (under `options.tag` or its digest). */
  push(desc: Descriptor, options: PushOptions = {}): Promise<ContentWriter> {
    return isManifest(desc) ? this.#pushManifest(desc, options) : this.#pushBlob(desc, options);
  }

  async #pushBlob(desc: Descriptor, options: PushOptions): Promise<ContentWriter> {
    let location = this.#sessions.get(desc.digest);
    this.#sessions.delete(desc.digest);
    if (!location) {
      const res = await this.#client.request({
        host: this.host,
        method: "POST",
        path: `/v2/${this.repository}/blobs/uploads/`,
        scope: this.#scope(),
        signal: options.signal,
      });
      await res.body?.cancel();
      location = res.headers.get("location") ?? undefined;
      if (res.status !== 202 || !location) {
        throw await responseError(res, `upload of ${desc.digest}`);
      }
    }
    const url = new URL(location, "http://placeholder/");
    url.searchParams.set("digest", desc.digest);
    const target = /^https?:/i.test(location) ? url.href : url.pathname + url.search;
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const done = this.#client.request({
      host: this.host,
      method: "PUT",
      url: target,
      headers: { "content-type": "application/octet-stream" },
      body: readable,
      scope: this.#scope(),
      signal: options.signal,
    }).then(async (res) => {
      if (res.status !== 201) throw await responseError(res, `upload of ${desc.digest}`);
      await res.body?.cancel();
      const echoed = res.headers.get("docker-content-digest");
      if (echoed && echoed !== desc.digest) {
        throw new DigestMismatchError(`registry stored ${echoed} for ${desc.digest}`);
      }
    });
    done.catch(() => {}); // reported by commit()
    return { writable, commit: () => done };
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
      const res = await this.#client.request({
        host: this.host,
        method: "PUT",
        path: `/v2/${this.repository}/manifests/${reference}`,
        headers: { "content-type": desc.mediaType },
        body: bytes,
        scope: this.#scope(),
        signal: options.signal,
      });
      if (res.status !== 201 && res.status !== 200) {
        throw await responseError(res, `manifest ${this.repository}:${reference}`);
      }
      await res.body?.cancel();
      const echoed = res.headers.get("docker-content-digest");
      if (echoed && echoed !== desc.digest) {
        throw new DigestMismatchError(`registry stored manifest ${echoed} for ${desc.digest}`);
      }
    };
    return Promise.resolve({ writable, commit });
  }
}

function isManifest(desc: Descriptor): boolean {
  return isManifestMediaType(desc.mediaType) || isIndexMediaType(desc.mediaType);
}
