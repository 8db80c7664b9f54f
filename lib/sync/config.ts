/**
 * skopeo's sync YAML, read strictly: per registry `images`,
 * `images-by-tag-regex`, `images-by-semver`, `credentials`, `tls-verify`
 * and `cert-dir`. Anything else — an unknown key, a bad regex or range, a
 * value of the wrong type — is an error naming the file, registry and key,
 * raised before anything is copied (skopeo ignores these silently).
 *
 * @module
 */
import { parseYaml as parse } from "./deps.ts";
import { UsageError } from "../errors.ts";
import { parseDockerReference } from "../reference.ts";
import { isValidRange, type TagRule } from "./select.ts";

/** What to take from one repository. */
export interface RepositoryRule {
  /** Repository path in the registry (`library/busybox`). */
  repository: string;
  /** Tags or digests listed by name; empty with `rule` set. */
  refs: string[];
  /** Tags chosen from the repository's list, when not listed by name. */
  rule?: TagRule;
}

/** One registry of the file. */
export interface RegistrySyncConfig {
  /** The registry host, as the file's key (`docker.io`, `localhost:5000`). */
  registry: string;
  /** Repositories and what to take from each, in file order. */
  repositories: RepositoryRule[];
  /** `credentials`: user name and password for this registry. */
  credentials?: { username: string; password: string };
  /** `tls-verify`, when given. */
  tlsVerify?: boolean;
  /** `cert-dir`, when given. */
  certDir?: string;
}

const REGISTRY_KEYS = new Set([
  "images",
  "images-by-tag-regex",
  "images-by-semver",
  "credentials",
  "tls-verify",
  "cert-dir",
]);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

type Mapping = Record<string, unknown>;
const isMapping = (v: unknown): v is Mapping =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Parses the text of a sync YAML file; `file` names it in errors.
 *
 * @example
 * ```ts
 * import { parseSyncConfig } from "./config.ts";
 * const [r] = parseSyncConfig("localhost:5000:\n  images:\n    app: []\n", "sync.yaml");
 * console.log(r.registry, r.repositories[0].rule); // "localhost:5000" { kind: "all" }
 * ```
 */
export function parseSyncConfig(text: string, file: string): RegistrySyncConfig[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return [];
  if (!isMapping(doc)) throw new UsageError(`${file}: expected a mapping of registries`);
  return Object.entries(doc).map(([registry, value]) => parseRegistry(file, registry, value));
}

/**
 * Reads and parses a sync YAML file.
 *
 * @example
 * ```ts ignore
 * import { readSyncConfig } from "./config.ts";
 * const registries = await readSyncConfig("sync.yaml");
 * ```
 */
export async function readSyncConfig(file: string): Promise<RegistrySyncConfig[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new UsageError(`${file}: cannot read: ${(e as Error).message}`);
  }
  return parseSyncConfig(text, file);
}

function parseRegistry(file: string, registry: string, value: unknown): RegistrySyncConfig {
  const fail = (key: string, why: string) =>
    new UsageError(`${file}: registry ${registry}: ${key}: ${why}`);
  if (!isMapping(value)) throw fail("(value)", "expected a mapping of settings");
  const out: RegistrySyncConfig = { registry, repositories: [] };
  for (const [key, v] of Object.entries(value)) {
    if (!REGISTRY_KEYS.has(key)) {
      throw fail(key, `unknown key (known: ${[...REGISTRY_KEYS].join(", ")})`);
    }
    if (v === null || v === undefined) continue;
    switch (key) {
      case "images":
        for (const [repo, list] of repoEntries(v, key, fail, registry)) {
          if (list !== null && !Array.isArray(list)) {
            throw fail(`${key}: ${repo}`, "expected a list of tags or digests ([] for every tag)");
          }
          const refs = (list ?? []).map((ref) => {
            if (typeof ref !== "string" || !(TAG_RE.test(ref) || DIGEST_RE.test(ref))) {
              throw fail(`${key}: ${repo}`, `${JSON.stringify(ref)} is not a tag or digest`);
            }
            return ref;
          });
          out.repositories.push({
            repository: repo,
            refs,
            ...(refs.length ? {} : { rule: { kind: "all" as const } }),
          });
        }
        break;
      case "images-by-tag-regex":
        for (const [repo, pattern] of repoEntries(v, key, fail, registry)) {
          if (typeof pattern !== "string") throw fail(`${key}: ${repo}`, "expected a regex");
          let compiled: RegExp;
          try {
            compiled = new RegExp(pattern);
          } catch (e) {
            throw fail(`${key}: ${repo}`, `bad regex ${JSON.stringify(pattern)}: ${msg(e)}`);
          }
          out.repositories.push({
            repository: repo,
            refs: [],
            rule: { kind: "regex", pattern: compiled },
          });
        }
        break;
      case "images-by-semver":
        for (const [repo, range] of repoEntries(v, key, fail, registry)) {
          if (typeof range !== "string" || !isValidRange(range)) {
            throw fail(`${key}: ${repo}`, `bad semver range ${JSON.stringify(range)}`);
          }
          out.repositories.push({ repository: repo, refs: [], rule: { kind: "semver", range } });
        }
        break;
      case "credentials": {
        if (!isMapping(v)) throw fail(key, "expected username and password");
        for (const k of Object.keys(v)) {
          if (k !== "username" && k !== "password") {
            throw fail(`${key}: ${k}`, "unknown key (known: username, password)");
          }
        }
        if (typeof v.username !== "string" || typeof v.password !== "string") {
          throw fail(key, "username and password must both be strings");
        }
        out.credentials = { username: v.username, password: v.password };
        break;
      }
      case "tls-verify":
        if (typeof v !== "boolean") throw fail(key, "expected true or false");
        out.tlsVerify = v;
        break;
      case "cert-dir":
        if (typeof v !== "string") throw fail(key, "expected a directory");
        out.certDir = v;
        break;
    }
  }
  return out;
}

/** The repository → value pairs of a key, each repository checked to be a name without tag. */
function repoEntries(
  v: unknown,
  key: string,
  fail: (key: string, why: string) => UsageError,
  registry: string,
): [string, unknown][] {
  if (!isMapping(v)) throw fail(key, "expected a mapping of repositories");
  return Object.entries(v).map(([repo, value]) => {
    let ok = false;
    try {
      const ref = parseDockerReference(`${registry}/${repo}`);
      // "foo" is no registry host: "foo/app" would name docker.io/foo/app.
      const sameHost = ref.domain !== "docker.io" || /(^|\.)docker\.io$/.test(registry);
      ok = ref.tag === undefined && ref.digest === undefined && sameHost &&
        (ref.path === repo || ref.path === `library/${repo}`);
    } catch {
      ok = false;
    }
    if (!ok) throw fail(`${key}: ${repo}`, "not a repository name");
    return [repo, value];
  });
}

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e));
