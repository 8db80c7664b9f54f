/**
 * Docker's `config.json`: where it lives and which `auths` entry serves a
 * registry, matched the way the docker CLI matches them.
 *
 * @module
 */
import { joinPath as join } from "../path.ts";
import { UsageError } from "../errors.ts";
import { type Credentials, decodeBase64Text } from "./credentials.ts";

/** The parts of Docker's config file that dtool reads. */
export interface DockerConfig {
  /** Per-registry entries. */
  auths?: Record<string, AuthEntry>;
  /** Default credential helper. */
  credsStore?: string;
  /** Credential helper per registry. */
  credHelpers?: Record<string, string>;
}

/** One `auths` entry. */
export interface AuthEntry {
  /** base64 of `USER:PASS`. */
  auth?: string;
  /** User name. */
  username?: string;
  /** Password. */
  password?: string;
  /** OAuth2 refresh token. */
  identitytoken?: string;
  /** Bearer token sent as is. */
  registrytoken?: string;
}

/**
 * Path of the config file: `$DOCKER_CONFIG/config.json`, else
 * `~/.docker/config.json`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dockerConfigPath } from "./docker_config.ts";
 * assert.equal(dockerConfigPath().endsWith("config.json"), true);
 * ```
 */
export function dockerConfigPath(): string {
  const dir = Deno.env.get("DOCKER_CONFIG");
  if (dir) return join(dir, "config.json");
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? ".";
  return join(home, ".docker", "config.json");
}

/**
 * Reads and checks a config file; a missing file is an empty config, a
 * malformed one a one-line error naming the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readDockerConfig } from "./docker_config.ts";
 * const cfg = await readDockerConfig("/nonexistent/config.json");
 * assert.deepEqual(cfg, {});
 * ```
 */
export async function readDockerConfig(path: string = dockerConfigPath()): Promise<DockerConfig> {
  const cfg = await readConfigObject(path) as DockerConfig;
  checkConfig(cfg, path);
  return cfg;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Refuses, naming the file and the key, what would otherwise fail later and obscurely. */
function checkConfig(cfg: DockerConfig, path: string): void {
  if (cfg.auths !== undefined && !isObject(cfg.auths)) {
    throw new UsageError(`${path}: "auths" is not an object`);
  }
  if (cfg.credsStore !== undefined && typeof cfg.credsStore !== "string") {
    throw new UsageError(`${path}: "credsStore" is not a helper name`);
  }
  if (cfg.credHelpers !== undefined) {
    if (
      !isObject(cfg.credHelpers) ||
      Object.values(cfg.credHelpers).some((v) => typeof v !== "string")
    ) {
      throw new UsageError(`${path}: "credHelpers" is not an object of helper names`);
    }
  }
  for (const [key, entry] of Object.entries(cfg.auths ?? {})) {
    if (!isObject(entry)) throw new UsageError(`${path}: auths entry "${key}" is not an object`);
    for (const field of ["auth", "username", "password", "identitytoken", "registrytoken"]) {
      if (entry[field] !== undefined && typeof entry[field] !== "string") {
        throw new UsageError(`${path}: auths entry "${key}" has a non-string "${field}"`);
      }
    }
    if (typeof entry.auth === "string" && entry.auth !== "") {
      try {
        decodeBasic(entry.auth);
      } catch (e) {
        throw new UsageError(`${path}: auths entry "${key}": ${(e as Error).message}`);
      }
    }
  }
}

/**
 * The config file as a plain JSON object, every key kept (for rewriting it);
 * a missing file is `{}`, anything else unreadable a one-line error naming it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readConfigObject } from "./docker_config.ts";
 * assert.deepEqual(await readConfigObject("/nonexistent/config.json"), {});
 * ```
 */
export async function readConfigObject(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new UsageError(`${path} is not a JSON object`);
  }
  return doc as Record<string, unknown>;
}

/**
 * The hostname a config key stands for: Docker keys may be URLs
 * (`https://index.docker.io/v1/`) or bare hosts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configKeyHost } from "./docker_config.ts";
 * assert.deepEqual(configKeyHost("https://index.docker.io/v1/"), "index.docker.io");
 * ```
 */
export function configKeyHost(key: string): string {
  let s = key.replace(/^[a-z]+:\/\//i, "");
  const slash = s.indexOf("/");
  if (slash >= 0) s = s.slice(0, slash);
  return s.toLowerCase();
}

const DOCKER_HUB_KEYS = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

/** The key of `record` that names `registry`: the exact one first, else a URL-shaped one. */
function findKey(record: Record<string, unknown>, registry: string): string | undefined {
  return registry in record ? registry : Object.keys(record).find((k) => keyMatches(k, registry));
}

/** True when `key` names `registry` (Docker Hub's aliases counted as one). */
function keyMatches(key: string, registryName: string): boolean {
  const host = configKeyHost(key);
  const registry = registryName.toLowerCase();
  if (host === registry) return true;
  return DOCKER_HUB_KEYS.has(registry) && DOCKER_HUB_KEYS.has(host);
}

/**
 * Finds the `auths` entry for a registry (e.g. `docker.io`,
 * `localhost:5000`) and decodes it. Exact keys win over URL-shaped ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { credentialsFromConfig } from "./docker_config.ts";
 * const cfg = { auths: { "https://index.docker.io/v1/": { auth: btoa("u:p") } } };
 * assert.deepEqual(credentialsFromConfig(cfg, "docker.io")?.username, "u");
 * ```
 */
export function credentialsFromConfig(
  cfg: DockerConfig,
  registry: string,
): Credentials | undefined {
  const auths = cfg.auths ?? {};
  const key = findKey(auths, registry);
  return key === undefined ? undefined : decodeEntry(auths[key]);
}

function decodeEntry(entry: AuthEntry | undefined): Credentials | undefined {
  if (!entry || typeof entry !== "object") return undefined;
  if (entry.registrytoken) {
    return { username: "", password: "", registryToken: entry.registrytoken };
  }
  if (entry.identitytoken) {
    const user = entry.auth ? decodeBasic(entry.auth).username : entry.username ?? "";
    return { username: user, password: "", identityToken: entry.identitytoken };
  }
  if (entry.auth) return decodeBasic(entry.auth);
  if (entry.username !== undefined && entry.password !== undefined) {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

function decodeBasic(auth: string): Credentials {
  let decoded: string;
  try {
    decoded = decodeBase64Text(auth);
  } catch {
    throw new UsageError('"auth" is not valid base64');
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) throw new UsageError('"auth" is not base64 of USER:PASSWORD');
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * The credential helper configured for a registry: its `credHelpers`
 * entry, else `credsStore`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { helperFor } from "./docker_config.ts";
 * assert.deepEqual(helperFor({ credsStore: "desktop", credHelpers: { "gcr.io": "gcloud" } }, "gcr.io"), "gcloud");
 * ```
 */
export function helperFor(cfg: DockerConfig, registry: string): string | undefined {
  const helpers = cfg.credHelpers ?? {};
  const key = findKey(helpers, registry);
  return (key !== undefined ? helpers[key] : undefined) || cfg.credsStore || undefined;
}

/**
 * The server URL Docker uses for a registry in helpers and `auths` keys:
 * `https://index.docker.io/v1/` for Docker Hub, the host elsewhere.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serverUrlFor } from "./docker_config.ts";
 * assert.deepEqual(serverUrlFor("registry-1.docker.io"), "https://index.docker.io/v1/");
 * ```
 */
export function serverUrlFor(registry: string): string {
  return DOCKER_HUB_KEYS.has(registry) ? "https://index.docker.io/v1/" : registry;
}
