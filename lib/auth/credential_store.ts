/**
 * Where a run's credentials come from, in Docker's order: the command-line
 * flag, then the registry's `credHelpers` entry, then `credsStore`, then
 * `auths` in the config file (`--authfile`, `REGISTRY_AUTH_FILE`,
 * `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`).
 *
 * @module
 */
import type { Credentials } from "./credentials.ts";
import {
  credentialsFromConfig,
  dockerConfigPath,
  helperFor,
  readDockerConfig,
  serverUrlFor,
} from "./docker_config.ts";

/** Options of {@linkcode credentialLookup}. */
export interface CredentialLookupOptions {
  /** Credentials from the command line; they win over everything. */
  flag?: Credentials;
  /** Config file to read instead of Docker's. */
  authfile?: string;
  /** Receives one-line notes (a helper missing or failing). */
  warn?: (message: string) => void;
}

/**
 * The config file a run reads: `--authfile`, else `REGISTRY_AUTH_FILE`, else Docker's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { authFilePath } from "./credential_store.ts";
 * assert.deepEqual(authFilePath("/tmp/auth.json"), "/tmp/auth.json");
 * ```
 */
export function authFilePath(authfile?: string): string {
  return authfile ?? Deno.env.get("REGISTRY_AUTH_FILE") ?? dockerConfigPath();
}

/**
 * A function giving the credentials of a registry host, looked up once per
 * host per run. The config file is read on the first lookup, so a run
 * against registries that ask for no credentials never reads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { credentialLookup } from "./credential_store.ts";
 * const lookup = await credentialLookup({ flag: { username: "u", password: "p" } });
 * assert.deepEqual((await lookup("localhost:5000"))?.username, "u");
 * ```
 */
export function credentialLookup(
  opts: CredentialLookupOptions = {},
): Promise<(host: string) => Promise<Credentials | undefined>> {
  if (opts.flag) {
    const flag = opts.flag;
    return Promise.resolve(() => Promise.resolve(flag));
  }
  let read: ReturnType<typeof readDockerConfig> | undefined;
  const cache = new Map<string, Promise<Credentials | undefined>>();
  const lookup = async (host: string): Promise<Credentials | undefined> => {
    const config = await (read ??= readDockerConfig(authFilePath(opts.authfile)));
    const helper = helperFor(config, host);
    if (helper) {
      // A configured helper owns the registry's credentials, as in the docker CLI: when it
      // has none (or cannot run), say so and go on anonymously.
      const { CredentialHelperError, helperGet } = await import("./credential_helper.ts");
      try {
        return await helperGet(helper, serverUrlFor(host));
      } catch (e) {
        if (!(e instanceof CredentialHelperError)) throw e;
        opts.warn?.(`${e.message}; going on without credentials`);
        return undefined;
      }
    }
    return credentialsFromConfig(config, host);
  };
  return Promise.resolve((host) => {
    let p = cache.get(host);
    if (!p) {
      p = lookup(host);
      cache.set(host, p);
    }
    return p;
  });
}
