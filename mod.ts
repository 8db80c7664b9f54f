/**
 * dtool: a container-image registry engine for Deno. Copy images between
 * registries, inspect them without pulling layers and list their tags, with
 * blobs streamed and verified by digest.
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
export type * from "./lib/remotes/remotes.ts";
export * from "./lib/remotes/manifest_source.ts";
export { DockerResolver, type DockerResolverOptions } from "./lib/remotes/docker/resolver.ts";
export { DockerFetcher, type DockerFetcherOptions } from "./lib/remotes/docker/fetcher.ts";
export { DockerPusher } from "./lib/remotes/docker/pusher.ts";
export {
  apiHost,
  isLoopbackHost,
  redactUrl,
  RegistryClient,
  type RegistryClientOptions,
  type RegistryRequest,
} from "./lib/remotes/docker/http.ts";
export { listTags } from "./lib/remotes/docker/tags.ts";
export { type Challenge, parseChallenges } from "./lib/auth/challenge.ts";
export { type Credentials, parseCredentials } from "./lib/auth/credentials.ts";
export {
  type AuthEntry,
  credentialsFromConfig,
  type DockerConfig,
  dockerConfigPath,
  readDockerConfig,
} from "./lib/auth/docker_config.ts";
export { Authorizer, type AuthorizerOptions, type Send } from "./lib/auth/authorizer.ts";
export * from "./lib/copy.ts";
export * from "./lib/inspect.ts";
