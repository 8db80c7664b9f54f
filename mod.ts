/**
 * dtool: a container-image registry engine for Deno. Copy images between
 * registries, inspect them without pulling layers and list their tags, with
 * blobs streamed and verified by digest; mirror many at once with `syncImages`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDockerReference, platformMatcher, parsePlatform } from "./mod.ts";
 * const ref = parseDockerReference("ubuntu:22.04");
 * assert.deepEqual(ref.toString(), "docker.io/library/ubuntu:22.04");
 * const m = platformMatcher(parsePlatform("linux/arm64"));
 * assert.equal(m.match(parsePlatform("linux/arm/v7")), true);
 * ```
 *
 * @module
 */
export * from "./lib/errors.ts";
export * from "./lib/reference.ts";
export * from "./lib/platform.ts";
export * from "./lib/digest.ts";
export * from "./lib/media_types.ts";
export * from "./lib/manifest.ts";
export * from "./lib/progress.ts";
export * from "./lib/remotes/remotes.ts";
export * from "./lib/remotes/manifest_source.ts";
export { DockerResolver, type DockerResolverOptions } from "./lib/remotes/docker/resolver.ts";
export { DockerFetcher, type DockerFetcherOptions } from "./lib/remotes/docker/fetcher.ts";
export { DockerPusher } from "./lib/remotes/docker/pusher.ts";
// The HTTP client is exported for what the registry resolver's constructors and fields name;
// request plumbing (token challenges, the authorizer, URL helpers) stays inside lib/.
export {
  RegistryClient,
  type RegistryClientOptions,
  type RegistryRequest,
} from "./lib/remotes/docker/http.ts";
export { type Credentials, parseCredentials } from "./lib/auth/credentials.ts";
export { Authorizer, type AuthorizerOptions, type Send } from "./lib/auth/authorizer.ts";
export type { Challenge } from "./lib/auth/challenge.ts";
export {
  type AuthEntry,
  credentialsFromConfig,
  type DockerConfig,
  dockerConfigPath,
  readDockerConfig,
} from "./lib/auth/docker_config.ts";
export * from "./lib/copy.ts";
export * from "./lib/inspect.ts";
export {
  CONTAINERD_NAME_ANNOTATION,
  OciLayout,
  type OpenLayoutOptions,
  REF_NAME_ANNOTATION,
  refName,
  withRef,
} from "./lib/oci/layout.ts";
export { findRef, refNames } from "./lib/oci/refs.ts";
export { OciFetcher, OciPusher, OciResolver } from "./lib/oci/resolver.ts";
export {
  cachedReader,
  layoutDigestTags,
  layoutReferrers,
  type ReadEntry,
  repositoryPrefix,
  tagOfRef,
} from "./lib/oci/layout_referrers.ts";
export { DirResolver } from "./lib/dir/resolver.ts";
export {
  MemoryFetcher,
  MemoryPusher,
  MemoryResolver,
  type MemoryStore,
  memoryStore,
} from "./lib/memory/resolver.ts";
export {
  fallbackTag,
  listReferrers,
  type ListReferrersOptions,
  referrerDescriptor,
  type ReferrerNode,
  subjectOf,
} from "./lib/referrers.ts";
export * from "./lib/sync/scheduler.ts";
export * from "./lib/sync/plan.ts";
export * from "./lib/sync/sources.ts";
export * from "./lib/sync/config.ts";
export * from "./lib/sync/naming.ts";
export * from "./lib/sync/shard.ts";
export * from "./lib/sync/select.ts";
export { OciArchiveResolver } from "./lib/archive/oci_archive.ts";
export { type DockerArchiveOptions, DockerArchiveResolver } from "./lib/archive/docker_archive.ts";
export * from "./lib/manage.ts";
export {
  parseAddr,
  type RunningRegistry,
  type ServeOptions,
  serveRegistry,
} from "./lib/serve/server.ts";
