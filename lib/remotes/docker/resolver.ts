/**
 * The registry implementation of {@linkcode Resolver}: references of the
 * docker grammar (`localhost:5000/team/app:1.0`, `ubuntu@sha256:…`) resolved
 * with a HEAD on the manifest, and fetchers, pushers and tag listers for them.
 *
 * @module
 */
import { digestOf, parseDigest } from "../../digest.ts";
import { DigestMismatchError, DtoolError, NotFoundError, TransientError } from "../../errors.ts";
import {
  type Descriptor,
  MAX_MANIFEST_BYTES,
  type ParsedManifest,
  parseManifest,
} from "../../manifest.ts";
import { MANIFEST_ACCEPT } from "../../media_types.ts";
import {
  type DockerReference,
  parseDockerReference,
  repositoryOnly,
  withTag,
} from "../../reference.ts";
import type {
  Fetcher,
  Pusher,
  ReferrersLister,
  ReferrersOptions,
  Resolved,
  Resolver,
  TaggedDescriptor,
  TagLister,
} from "../remotes.ts";
import { DockerFetcher, type DockerFetcherOptions } from "./fetcher.ts";
import { readBody, RegistryClient, type RegistryClientOptions, responseError } from "./http.ts";
import { repositoryScope } from "./scope.ts";
import { listCatalog, listTags } from "./tags.ts";

/** Options of a {@linkcode DockerResolver}: the HTTP client's and the fetcher's. */
export interface DockerResolverOptions extends RegistryClientOptions, DockerFetcherOptions {
  /** Share one client (and so its tokens and connections) between resolvers. */
  client?: RegistryClient;
  /**
   * The resolver serves a copy's destination: ask for pull and push access
   * from the start, so one token serves the whole copy.
   */
  forPush?: boolean;
  /**
   * Upload blobs in chunks of this many bytes (POST, PATCH…, PUT) instead
   * of one streamed PUT, for registries or proxies that limit request bodies.
   */
  uploadChunkSize?: number;
  /**
   * For a copy inside one registry: the source repository, so the
   * destination's token also covers pulling from it (cross-repository mounts).
   */
  mountFrom?: string;
}

/** The tag or digest a reference points at; `latest` when it names neither. */
export function manifestReference(ref: DockerReference): string {
  return ref.digest ?? ref.tag ?? "latest";
}

/**
 * Resolves references against registries over HTTP.
 *
 * @example
 * ```ts
 * import { DockerResolver } from "./resolver.ts";
 * const resolver = new DockerResolver({});
 * // const { descriptor } = await resolver.resolve("localhost:5000/team/app:1.0");
 * // const stream = await (await resolver.fetcher("localhost:5000/team/app")).fetch(descriptor);
 * ```
 */
export class DockerResolver implements Resolver, TagLister, ReferrersLister {
  /** The HTTP client, exposed for its request count. */
  readonly client: RegistryClient;
  #opts: DockerResolverOptions;
  /** The push code, loaded on first need (or at once, for a destination). */
  #pusherCode: Promise<typeof import("./pusher.ts")> | undefined;

  /** Creates a resolver; nothing is sent until it is used. */
  constructor(opts: DockerResolverOptions = {}) {
    this.client = opts.client ?? new RegistryClient(opts);
    this.#opts = opts;
    // A destination loads its push code while the first requests are on the wire.
    if (opts.forPush) {
      this.#pusherCode = import("./pusher.ts");
      this.#pusherCode.catch(() => {}); // reported by pusher(), if it is ever asked for
    }
  }

  #scope(path: string): string {
    return repositoryScope(path, { push: this.#opts.forPush, mountFrom: this.#opts.mountFrom });
  }

  /** HEADs the manifest a reference names and returns its descriptor. */
  async resolve(ref: string): Promise<Resolved> {
    const r = parseDockerReference(ref);
    const target = manifestReference(r);
    const res = await this.client.request({
      host: r.domain,
      method: "HEAD",
      path: `/v2/${r.path}/manifests/${target}`,
      headers: { accept: MANIFEST_ACCEPT.join(", ") },
      scope: this.#scope(r.path),
    });
    await res.body?.cancel();
    if (res.status === 404) throw new NotFoundError(`manifest unknown: ${r.toString()}`);
    if (!res.ok) throw await responseError(res, `manifest ${r.toString()}`);
    const digest = r.digest ?? res.headers.get("docker-content-digest");
    const mediaType = (res.headers.get("content-type") ?? "").split(";")[0].trim();
    const size = Number(res.headers.get("content-length") ?? NaN);
    if (!digest || !mediaType || !Number.isFinite(size)) {
      // Some registries omit headers on HEAD: read the manifest instead.
      const m = await this.getManifest(ref);
      return {
        name: r.toString(),
        descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.raw.byteLength },
      };
    }
    parseDigest(digest);
    return { name: r.toString(), descriptor: { mediaType, digest, size } };
  }

  /**
   * GETs and parses the manifest a reference names in one request, checking
   * its bytes against the reference digest or the registry's
   * `Docker-Content-Digest`.
   */
  async getManifest(ref: string): Promise<ParsedManifest> {
    const r = parseDockerReference(ref);
    const target = manifestReference(r);
    const res = await this.client.request({
      host: r.domain,
      path: `/v2/${r.path}/manifests/${target}`,
      headers: { accept: MANIFEST_ACCEPT.join(", ") },
      scope: this.#scope(r.path),
    });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new NotFoundError(`manifest unknown: ${r.toString()}`);
    }
    if (!res.ok) throw await responseError(res, `manifest ${r.toString()}`);
    // Bounded: a registry cannot make dtool hold more than a manifest's maximum.
    const raw = await readBody(res, MAX_MANIFEST_BYTES).catch((e) => {
      if (e instanceof DtoolError) throw e;
      // The body broke off after the headers: nothing below retries that, a new GET may do.
      throw new TransientError(`manifest of ${r.toString()} cut short: ${(e as Error).message}`, {
        cause: e,
      });
    });
    const expected = r.digest ?? res.headers.get("docker-content-digest");
    const algorithm = expected ? parseDigest(expected).algorithm : "sha256";
    const actual = await digestOf(raw, algorithm);
    if (expected && actual !== expected) {
      throw new DigestMismatchError(
        `manifest of ${r.toString()} hashes to ${actual}, not ${expected}`,
      );
    }
    const sha256 = algorithm === "sha256" ? actual : undefined;
    return parseManifest(raw, res.headers.get("content-type") ?? undefined, sha256);
  }

  /** A fetcher for the repository of `ref`. */
  fetcher(ref: string): Promise<Fetcher> {
    const r = parseDockerReference(ref);
    return Promise.resolve(new DockerFetcher(this.client, r.domain, r.path, this.#opts));
  }

  /** A pusher for the repository of `ref` (its code loads on first use: reads never need it). */
  async pusher(ref: string): Promise<Pusher> {
    const r = parseDockerReference(ref);
    const { DockerPusher } = await (this.#pusherCode ??= import("./pusher.ts"));
    return new DockerPusher(this.client, r.domain, r.path, {
      chunkSize: this.#opts.uploadChunkSize,
      mountFrom: this.#opts.mountFrom,
    });
  }

  /** Every tag of the repository of `ref`, following the registry's pages. */
  listTags(ref: string): Promise<string[]> {
    return listTags(this.client, parseDockerReference(ref));
  }

  /** Referrers of `subject` in the repository of `ref`: the API, or the fallback tag. */
  async referrers(
    ref: string,
    subject: string,
    options: ReferrersOptions = {},
  ): Promise<Descriptor[]> {
    const r = parseDockerReference(ref);
    const target = {
      client: this.client,
      host: r.domain,
      repository: r.path,
      scope: this.#scope(r.path),
    };
    const { listRegistryReferrers } = await import("./referrers.ts");
    return (await listRegistryReferrers(target, subject, options.artifactTypes)).manifests;
  }

  /** Tags of the repository of `ref` named after one of `subjects` (cosign's `sha256-<hex>.sig`). */
  async digestTags(ref: string, subjects: readonly string[]): Promise<TaggedDescriptor[]> {
    const repo = repositoryOnly(parseDockerReference(ref));
    const { fallbackTag } = await import("../../referrers.ts");
    const prefixes = subjects.map(fallbackTag);
    const tags = (await this.listTags(repo.toString())).filter((t) =>
      prefixes.some((p) => t.startsWith(p))
    );
    return await Promise.all(tags.map(async (tag) => ({
      tag,
      descriptor: (await this.resolve(withTag(repo, tag).toString())).descriptor,
    })));
  }

  /**
   * Deletes the manifest `ref` names (by digest), or its tag where the
   * registry deletes tags, else the manifest the tag names.
   */
  async deleteManifest(ref: string): Promise<{ digest?: string; tagOnly: boolean }> {
    const { deleteManifest } = await import("./delete.ts");
    return deleteManifest(
      this.client,
      parseDockerReference(ref),
      async () => (await this.resolve(ref)).descriptor.digest,
    );
  }

  /** Every repository of the registry `host` (`/v2/_catalog`, every page). */
  listRepositories(host: string): Promise<string[]> {
    return listCatalog(this.client, host);
  }
}
