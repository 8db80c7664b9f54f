/**
 * What a sync reads: the images a SOURCE names — one image, every tag of a
 * repository, every repository of a registry (its catalog), the images of
 * a sync YAML file, or every ref of an OCI layout. A repository or registry
 * that cannot be listed is one failure naming it; the others go on.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { parseDockerReference } from "../reference.ts";
import { canListTags, type Resolver } from "../remotes/remotes.ts";
import type { RegistrySyncConfig, RepositoryRule } from "./config.ts";
import type { SourceName } from "./naming.ts";

/** Registry settings a YAML file gives for one registry. */
export interface SourceSettings {
  /** `USER:PASSWORD` from `credentials`. */
  creds?: string;
  /** `tls-verify`. */
  tlsVerify?: boolean;
  /** `cert-dir`. */
  certDir?: string;
}

/** One image to sync, as read from the source. */
export interface SourceImage extends SourceName {
  /** Where to read it, as `parseImageReference` reads (`docker://h/a:1`, `oci:DIR:a:1`). */
  ref: string;
  /** Settings of its registry, from a YAML file. */
  settings?: SourceSettings;
  /** The store it is read from when that is no registry (`oci:DIR`). */
  store?: string;
}

/** A repository, registry or layout that could not be listed. */
export interface SourceFailure {
  /** What could not be listed: `localhost:5000/app`. */
  image: string;
  /** Its registry (or layout). */
  registry: string;
  /** Why, one line. */
  reason: string;
}

/** The images found, and what could not be listed. */
export interface SourceListing {
  /** Images, each once, in source order. */
  images: SourceImage[];
  /** One entry per repository or registry that could not be listed. */
  failures: SourceFailure[];
}

/** Opens a resolver (and the reference in its grammar) for listing `image` (`docker://h/a`, `oci:DIR`). */
export type OpenSource = (
  image: string,
  settings?: SourceSettings,
) => Promise<{ resolver: Resolver; ref: string }>;

/** A resolver that can list a registry's repositories (the catalog). */
interface RepositoryLister {
  listRepositories(host: string): Promise<string[]>;
}
const canListRepositories = (r: object): r is RepositoryLister =>
  typeof (r as Partial<RepositoryLister>).listRepositories === "function";

/** Repositories listed at once. */
const LISTINGS_AT_ONCE = 8;

/**
 * True when SOURCE names a whole registry: a host alone (`localhost:5000`,
 * `registry.example`, optionally with a trailing `/`), not a repository.
 * A host is `localhost`, a name with a dot, or an IP, as in docker references.
 *
 * @example
 * ```ts
 * import { isRegistrySource } from "./sources.ts";
 * console.log(isRegistrySource("localhost:5000"), isRegistrySource("busybox")); // true false
 * ```
 */
export function isRegistrySource(source: string): boolean {
  const s = source.replace(/^docker:\/\//, "").replace(/\/$/, "");
  if (s.includes("/") || s.includes("@")) return false;
  if (/^\[[0-9a-fA-F:.]+\](:\d+)?$/.test(s)) return true;
  // "busybox:1" is an image: a host is localhost or has a dot (names, IPv4), then maybe a port.
  const m = s.match(/^([^:]+)(:\d+)?$/);
  return m !== null && (m[1] === "localhost" || m[1].includes("."));
}

/**
 * The images of `--src docker SOURCE`: an image, a repository (every tag),
 * or a registry (every repository of its catalog, every tag).
 *
 * @example
 * ```ts ignore
 * import { dockerSource } from "./sources.ts";
 * const { images } = await dockerSource("localhost:5000/app", open);
 * ```
 */
export async function dockerSource(source: string, open: OpenSource): Promise<SourceListing> {
  const s = source.replace(/^docker:\/\//, "").replace(/\/$/, "");
  if (isRegistrySource(s)) return await registryImages(s, open);
  const ref = parseDockerReference(s);
  if (ref.tag !== undefined || ref.digest !== undefined) {
    return {
      images: [{
        ref: `docker://${ref}`,
        registry: ref.domain,
        repository: ref.path,
        tag: ref.tag,
        digest: ref.tag === undefined ? ref.digest : undefined,
      }],
      failures: [],
    };
  }
  return await collect([() => repositoryImages(ref.domain, ref.path, { refs: [] }, open)]);
}

/**
 * The images a sync YAML file names, registry by registry.
 *
 * @example
 * ```ts ignore
 * import { yamlSource } from "./sources.ts";
 * import { readSyncConfig } from "./config.ts";
 * const { images } = await yamlSource(await readSyncConfig("sync.yaml"), open);
 * ```
 */
export function yamlSource(config: RegistrySyncConfig[], open: OpenSource): Promise<SourceListing> {
  const jobs: (() => Promise<SourceListing>)[] = [];
  for (const registry of config) {
    const settings: SourceSettings = {
      creds: registry.credentials
        ? `${registry.credentials.username}:${registry.credentials.password}`
        : undefined,
      tlsVerify: registry.tlsVerify,
      certDir: registry.certDir,
    };
    // One listing per repository even when several rules name it.
    const tags = new Map<string, Promise<string[]>>();
    for (const rule of registry.repositories) {
      jobs.push(() =>
        repositoryImages(registry.registry, rule.repository, rule, open, settings, tags)
      );
    }
  }
  return collect(jobs);
}

/**
 * The images of an OCI layout: every ref; `repo/path:tag` names repository
 * `repo/path`, a ref without a colon is a tag of a repository named after
 * the layout's folder.
 *
 * @example
 * ```ts ignore
 * import { ociSource } from "./sources.ts";
 * const { images } = await ociSource("/srv/bundle", open);
 * ```
 */
export async function ociSource(dir: string, open: OpenSource): Promise<SourceListing> {
  const folder = folderName(dir);
  try {
    const { resolver, ref } = await open(`oci:${dir}`);
    if (!canListTags(resolver)) throw new UsageError(`oci:${dir} cannot list its refs`);
    const names = [...new Set(await resolver.listTags(ref))];
    return {
      images: names.map((name) => ({
        ref: `oci:${dir}:${name}`,
        registry: "",
        store: `oci:${dir}`,
        ...refParts(name, folder),
      })),
      failures: [],
    };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return {
      images: [],
      failures: [{ image: `oci:${dir}`, registry: `oci:${dir}`, reason: reasonOf(e) }],
    };
  }
}

/** Repository and tag (or digest) of a layout ref name. */
function refParts(name: string, folder: string): Pick<SourceName, "repository" | "tag" | "digest"> {
  const at = name.indexOf("@");
  if (at > 0) return { repository: name.slice(0, at), digest: name.slice(at + 1) };
  const colon = name.lastIndexOf(":");
  if (colon > 0) return { repository: name.slice(0, colon), tag: name.slice(colon + 1) };
  return { repository: folder, tag: name };
}

async function registryImages(host: string, open: OpenSource): Promise<SourceListing> {
  let repositories: string[];
  try {
    // Any repository of the host opens its client; the catalog is the registry's.
    const { resolver } = await open(`docker://${host}/catalog`);
    if (!canListRepositories(resolver)) throw new UsageError(`${host} cannot list repositories`);
    repositories = await resolver.listRepositories(host);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return { images: [], failures: [{ image: host, registry: host, reason: reasonOf(e) }] };
  }
  return collect(
    repositories.map((repo) => () => repositoryImages(host, repo, { refs: [] }, open)),
  );
}

async function repositoryImages(
  registry: string,
  repository: string,
  rule: Pick<RepositoryRule, "refs" | "rule">,
  open: OpenSource,
  settings?: SourceSettings,
  listings?: Map<string, Promise<string[]>>,
): Promise<SourceListing> {
  const name = parseDockerReference(`${registry}/${repository}`);
  const base = { registry: name.domain, repository: name.path, settings };
  if (rule.refs.length) {
    const images = rule.refs.map((r) => {
      const digest = r.includes(":");
      return {
        ...base,
        ref: `docker://${name.name}${digest ? "@" : ":"}${r}`,
        ...(digest ? { digest: r } : { tag: r }),
      };
    });
    return { images, failures: [] };
  }
  try {
    let tags = listings?.get(name.name);
    if (!tags) {
      tags = (async () => {
        const { resolver, ref } = await open(`docker://${name.name}`, settings);
        if (!canListTags(resolver)) throw new UsageError(`${name.name} cannot list tags`);
        return resolver.listTags(ref);
      })();
      listings?.set(name.name, tags);
    }
    // Every tag needs no choosing; a regex or semver rule loads the chooser (semver is npm's).
    const tagRule = rule.rule ?? { kind: "all" };
    const chosen = tagRule.kind === "all"
      ? await tags
      : (await import("./select.ts")).selectTags(await tags, tagRule);
    return {
      images: chosen.map((tag) => ({ ...base, ref: `docker://${name.name}:${tag}`, tag })),
      failures: [],
    };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return {
      images: [],
      failures: [{ image: name.name, registry: name.domain, reason: reasonOf(e) }],
    };
  }
}

/** Runs listings a few at once and merges them, each image once. */
async function collect(jobs: (() => Promise<SourceListing>)[]): Promise<SourceListing> {
  const results: SourceListing[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(LISTINGS_AT_ONCE, jobs.length) }, worker));
  const seen = new Set<string>();
  const images: SourceImage[] = [];
  for (const r of results) {
    for (const img of r.images) {
      if (seen.has(img.ref)) continue;
      seen.add(img.ref);
      images.push(img);
    }
  }
  return { images, failures: results.flatMap((r) => r.failures) };
}

const reasonOf = (e: unknown) =>
  (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");

/** The last element of a directory's absolute path (`.` and `..` resolved where it exists). */
function folderName(dir: string): string {
  let abs: string;
  try {
    abs = Deno.realPathSync(dir);
  } catch {
    abs = dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`;
  }
  return abs.replace(/[\\/]+$/, "").split(/[\\/]/).pop() ?? abs;
}
