/**
 * Repository names, tags and digests in registry URLs, checked against the
 * distribution spec's grammar before they reach the file system, so no
 * name can lead outside the storage.
 *
 * @module
 */
import { isDigest } from "../digest.ts";
import { RegistryError } from "./errors.ts";

const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const NAME_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** distribution's limit on a repository name. */
const MAX_NAME = 255;

/**
 * True for a valid repository name (`team/app`).
 *
 * @example
 * ```ts
 * import { isRepositoryName } from "./names.ts";
 * console.log(isRepositoryName("team/app"), isRepositoryName("../etc")); // true false
 * ```
 */
export function isRepositoryName(name: string): boolean {
  return name.length <= MAX_NAME && NAME_RE.test(name);
}

/**
 * True for a valid tag (`1.0`, `latest`).
 *
 * @example
 * ```ts
 * import { isTag } from "./names.ts";
 * console.log(isTag("v1.0"), isTag("-x")); // true false
 * ```
 */
export function isTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Checks a repository name, answering NAME_INVALID when it is not one. */
export function checkRepository(name: string): string {
  if (!isRepositoryName(name)) {
    throw new RegistryError("NAME_INVALID", `invalid repository name ${JSON.stringify(name)}`);
  }
  return name;
}

/** Checks a digest in a URL, answering DIGEST_INVALID when it is not one dtool can verify. */
export function checkDigest(digest: string): string {
  if (!isSupportedDigest(digest)) {
    throw new RegistryError("DIGEST_INVALID", `invalid digest ${JSON.stringify(digest)}`);
  }
  return digest;
}

/** True for a sha256 or sha512 digest in canonical form. */
export function isSupportedDigest(digest: string): boolean {
  return isDigest(digest);
}

/**
 * Splits a layout ref name `<repository>:<tag>` into its parts; `undefined`
 * for ref names that name no repository (`1`, `latest`).
 *
 * @example
 * ```ts
 * import { splitRefName } from "./names.ts";
 * console.log(splitRefName("team/app:1")); // { repository: "team/app", tag: "1" }
 * ```
 */
export function splitRefName(refName: string): { repository: string; tag: string } | undefined {
  const colon = refName.lastIndexOf(":");
  if (colon <= 0) return undefined;
  const repository = refName.slice(0, colon);
  const tag = refName.slice(colon + 1);
  return isRepositoryName(repository) && isTag(tag) ? { repository, tag } : undefined;
}
