/**
 * Image references: the docker reference grammar of distribution/reference
 * (with `ParseNormalizedNamed` normalisation) and skopeo-style
 * `TRANSPORT:REFERENCE` strings built on top of it.
 *
 * @example
 * ```ts
 * import { parseDockerReference, parseImageReference } from "./reference.ts";
 * console.log(parseDockerReference("ubuntu:22.04").toString()); // "docker.io/library/ubuntu:22.04"
 * console.log(parseImageReference("oci:/tmp/layout:v1").toString()); // "oci:/tmp/layout:v1"
 * ```
 *
 * @module
 */

import { InvalidReferenceError, UsageError } from "./errors.ts";

// ---------------------------------------------------------------------------
// Grammar (distribution/reference, regexp.go). Built from small pieces so each
// production can be read against the upstream grammar comment.
// ---------------------------------------------------------------------------

const group = (...parts: string[]) => `(?:${parts.join("")})`;
const maybe = (...parts: string[]) => `${group(...parts)}?`;
const repeated = (...parts: string[]) => `${group(...parts)}*`;
const capture = (...parts: string[]) => `(${parts.join("")})`;
const anchor = (...parts: string[]) => new RegExp(`^${parts.join("")}$`);

const ALPHANUMERIC = "[a-z0-9]+";
// One period, one or two underscores, or any run of dashes.
const SEPARATOR = "(?:[._]|__|[-]+)";
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_NAME = DOMAIN_COMPONENT + repeated("\\.", DOMAIN_COMPONENT);
// Bracketed IPv6 only; zone identifiers and IPv4-mapped forms are excluded on purpose.
const IPV6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const HOST = group(DOMAIN_NAME, "|", IPV6);
const DOMAIN_AND_PORT = HOST + maybe(":[0-9]+");
const PATH_COMPONENT = ALPHANUMERIC + repeated(SEPARATOR, ALPHANUMERIC);
const REMOTE_NAME = PATH_COMPONENT + repeated("/", PATH_COMPONENT);
const NAME = maybe(DOMAIN_AND_PORT, "/") + REMOTE_NAME;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}";

const REFERENCE_RE = anchor(capture(NAME), maybe(":", capture(TAG)), maybe("@", capture(DIGEST)));
const NAME_RE = anchor(maybe(capture(DOMAIN_AND_PORT), "/"), capture(REMOTE_NAME));
const TAG_RE = anchor(TAG);
const DIGEST_RE = anchor(DIGEST);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
/** go-digest's own, stricter digest shape: lowercase algorithm names. */
const GO_DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Upstream's RepositoryNameTotalLengthMax; applies to the path, not the domain. */
const MAX_PATH_LENGTH = 255;
const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
const OFFICIAL_REPO_PREFIX = "library/";
const LOCALHOST = "localhost";

/** Hex length of each digest algorithm we can verify (go-digest registers these two here). */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

// ---------------------------------------------------------------------------
// Docker references
// ---------------------------------------------------------------------------

/**
 * A normalised docker reference: always has a domain, Hub names carry
 * `library/`, and tag and digest may both be present.
 *
 * @example
 * ```ts
 * import { parseDockerReference } from "./reference.ts";
 * const ref = parseDockerReference("localhost:5000/a/b:1");
 * console.log(ref.domain, ref.path, ref.tag); // "localhost:5000" "a/b" "1"
 * ```
 */
export interface DockerReference {
  /** Registry host with optional port: `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly domain: string;
  /** Repository path inside the registry: `library/ubuntu`. */
  readonly path: string;
  /** The tag, or `undefined` when absent. */
  readonly tag?: string;
  /** The digest (`sha256:…`), or `undefined` when absent. */
  readonly digest?: string;
  /** `${domain}/${path}`. */
  readonly name: string;
  /** Canonical form `name[:tag][@digest]`, e.g. `docker.io/library/ubuntu:22.04`. */
  toString(): string;
  /** The form docker shows: `docker.io/` and a lone `library/` stripped, e.g. `ubuntu:22.04`. */
  familiarString(): string;
}

class NormalizedReference implements DockerReference {
  readonly domain: string;
  readonly path: string;
  // `declare` keeps absent parts absent (no own `undefined` properties).
  declare readonly tag?: string;
  declare readonly digest?: string;

  constructor(domain: string, path: string, tag?: string, digest?: string) {
    this.domain = domain;
    this.path = path;
    if (tag !== undefined) (this as { tag?: string }).tag = tag;
    if (digest !== undefined) (this as { digest?: string }).digest = digest;
    Object.freeze(this);
  }

  get name(): string {
    return `${this.domain}/${this.path}`;
  }

  toString(): string {
    return withSuffixes(this.name, this.tag, this.digest);
  }

  familiarString(): string {
    return withSuffixes(familiarName(this.domain, this.path), this.tag, this.digest);
  }
}

function withSuffixes(name: string, tag?: string, digest?: string): string {
  return name + (tag === undefined ? "" : `:${tag}`) + (digest === undefined ? "" : `@${digest}`);
}

/** Docker's familiar name: Hub needs no domain, and official images need no `library/`. */
function familiarName(domain: string, path: string): string {
  if (domain !== DEFAULT_DOMAIN) return `${domain}/${path}`;
  if (path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = path.slice(OFFICIAL_REPO_PREFIX.length);
    // Only one level: "library/a/b" keeps its prefix, as upstream does.
    if (!rest.includes("/")) return rest;
  }
  return path;
}

/**
 * Parses a docker reference the way `ParseNormalizedNamed` does: `ubuntu`
 * becomes `docker.io/library/ubuntu`, `index.docker.io` becomes `docker.io`,
 * and a first component with `.` or `:`, `localhost`, or an uppercase letter
 * is a registry. No default tag is added. Throws {@linkcode InvalidReferenceError}.
 *
 * @example
 * ```ts
 * import { parseDockerReference } from "./reference.ts";
 * const ref = parseDockerReference("busybox:1@sha256:" + "a".repeat(64));
 * console.log(ref.name, ref.tag); // "docker.io/library/busybox" "1"
 * console.log(parseDockerReference("[::1]:5000/x").domain); // "[::1]:5000"
 * ```
 */
export function parseDockerReference(s: string): DockerReference {
  if (IDENTIFIER_RE.test(s)) {
    throw new InvalidReferenceError(
      `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  const [domain, remainder] = splitDockerDomain(s);
  const colon = remainder.indexOf(":");
  const remote = colon === -1 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote) throw uppercaseError();
  return parseCanonical(`${domain}/${remainder}`);
}

function uppercaseError(): InvalidReferenceError {
  return new InvalidReferenceError(
    "invalid reference format: repository name must be lowercase",
  );
}

/** Splits off the registry, choosing docker.io when the first component does not look like one. */
function splitDockerDomain(s: string): [string, string] {
  const slash = s.indexOf("/");
  // A single component can never be a registry: "localhost:5000" is a name and a tag.
  if (slash === -1) return [DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + s];
  const first = s.slice(0, slash);
  let rest = s.slice(slash + 1);
  let domain: string;
  if (first === LEGACY_DEFAULT_DOMAIN) {
    domain = DEFAULT_DOMAIN;
  } else if (
    first === LOCALHOST || /[.:]/.test(first) || first.toLowerCase() !== first
  ) {
    domain = first;
  } else {
    domain = DEFAULT_DOMAIN;
    rest = s;
  }
  if (domain === DEFAULT_DOMAIN && !rest.includes("/")) rest = OFFICIAL_REPO_PREFIX + rest;
  return [domain, rest];
}

/** Upstream's `Parse`, applied to an already normalised `domain/remainder` string. */
function parseCanonical(s: string): DockerReference {
  const match = REFERENCE_RE.exec(s);
  if (match === null) {
    const lower = s.toLowerCase();
    if (lower !== s && REFERENCE_RE.test(lower)) throw uppercaseError();
    throw new InvalidReferenceError("invalid reference format");
  }
  const [, name, tag, digest] = match;
  const [domain, path] = splitName(name);
  if (digest !== undefined) validateDigest(digest);
  return new NormalizedReference(domain, path, tag, digest);
}

function splitName(name: string): [string, string] {
  const match = NAME_RE.exec(name)!;
  const [, domain, path] = match;
  // e.g. "foo_bar.com/x": looks like a registry to the normaliser but is not a valid host,
  // so upstream would return a reference with no domain at all. We have no such shape.
  if (domain === undefined) throw new InvalidReferenceError("invalid reference format");
  if (path.length > MAX_PATH_LENGTH) {
    throw new InvalidReferenceError(
      `repository name must not be more than ${MAX_PATH_LENGTH} characters`,
    );
  }
  return [domain, path];
}

/** go-digest's `Validate`: known algorithm, then exact length, then lowercase hex. */
function validateDigest(digest: string): void {
  const colon = digest.indexOf(":");
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  const length = Object.hasOwn(DIGEST_HEX_LENGTH, algorithm)
    ? DIGEST_HEX_LENGTH[algorithm]
    : undefined;
  if (length === undefined) {
    // go-digest only calls an algorithm unsupported if it is at least well-formed.
    if (!GO_DIGEST_RE.test(digest)) {
      throw new InvalidReferenceError("invalid checksum digest format");
    }
    throw new InvalidReferenceError("unsupported digest algorithm");
  }
  if (encoded.length !== length) {
    throw new InvalidReferenceError("invalid checksum digest length");
  }
  if (!/^[a-f0-9]+$/.test(encoded)) {
    throw new InvalidReferenceError("invalid checksum digest format");
  }
}

/**
 * Returns `ref` with `tag` and without any digest. Throws
 * {@linkcode InvalidReferenceError} (`invalid tag format`) for a bad tag.
 *
 * @example
 * ```ts
 * import { parseDockerReference, withTag } from "./reference.ts";
 * console.log(withTag(parseDockerReference("ubuntu:20.04"), "22.04").familiarString()); // "ubuntu:22.04"
 * ```
 */
export function withTag(ref: DockerReference, tag: string): DockerReference {
  if (!TAG_RE.test(tag)) throw new InvalidReferenceError("invalid tag format");
  return new NormalizedReference(ref.domain, ref.path, tag);
}

/**
 * Returns `ref` with `digest` and without any tag. Throws
 * {@linkcode InvalidReferenceError} for a malformed, unknown or wrong-length digest.
 *
 * @example
 * ```ts
 * import { parseDockerReference, withDigest } from "./reference.ts";
 * const ref = withDigest(parseDockerReference("ubuntu:22.04"), "sha256:" + "0".repeat(64));
 * console.log(ref.tag, ref.digest?.slice(0, 10)); // undefined "sha256:000"
 * ```
 */
export function withDigest(ref: DockerReference, digest: string): DockerReference {
  if (!DIGEST_RE.test(digest)) throw new InvalidReferenceError("invalid digest format");
  validateDigest(digest);
  return new NormalizedReference(ref.domain, ref.path, undefined, digest);
}

/**
 * Returns the repository of `ref`: the same domain and path, no tag, no digest.
 *
 * @example
 * ```ts
 * import { parseDockerReference, repositoryOnly } from "./reference.ts";
 * console.log(repositoryOnly(parseDockerReference("ubuntu:22.04")).toString()); // "docker.io/library/ubuntu"
 * ```
 */
export function repositoryOnly(ref: DockerReference): DockerReference {
  return new NormalizedReference(ref.domain, ref.path);
}

// ---------------------------------------------------------------------------
// Image references: TRANSPORT:REFERENCE
// ---------------------------------------------------------------------------

/**
 * The transports dtool reads and writes.
 *
 * @example
 * ```ts
 * import type { Transport } from "./reference.ts";
 * const t: Transport = "oci-archive";
 * console.log(t); // "oci-archive"
 * ```
 */
export type Transport = "docker" | "oci" | "oci-archive" | "docker-archive" | "dir";

/**
 * Where an image lives: a registry (`docker`), an OCI layout directory or
 * archive, a `docker save` archive, or a plain directory. `toString()` gives
 * back the `TRANSPORT:REFERENCE` form (docker references in canonical form).
 *
 * @example
 * ```ts
 * import { parseImageReference } from "./reference.ts";
 * const ref = parseImageReference("ubuntu");
 * if (ref.transport === "docker") console.log(ref.docker.path); // "library/ubuntu"
 * console.log(ref.toString()); // "docker://docker.io/library/ubuntu"
 * ```
 */
export type ImageReference =
  | { readonly transport: "docker"; readonly docker: DockerReference; toString(): string }
  | {
    readonly transport: "oci" | "oci-archive" | "docker-archive";
    readonly path: string;
    readonly reference?: string;
    toString(): string;
  }
  | { readonly transport: "dir"; readonly path: string; toString(): string };

/**
 * The transports {@linkcode parseImageReference} accepts, in the order error messages list them.
 *
 * @example
 * ```ts
 * import { SUPPORTED_TRANSPORTS } from "./reference.ts";
 * console.log(SUPPORTED_TRANSPORTS.includes("oci")); // true
 * ```
 */
export const SUPPORTED_TRANSPORTS: readonly Transport[] = Object.freeze([
  "docker",
  "oci",
  "oci-archive",
  "docker-archive",
  "dir",
]);

/** skopeo transports we recognise by name only to say clearly that they are not supported. */
const UNSUPPORTED_TRANSPORTS = new Set([
  "docker-daemon",
  "containers-storage",
  "ostree",
  "sif",
  "tarball",
]);

/** `org.opencontainers.image.ref.name` grammar from the OCI image-layout spec. */
const OCI_REF_COMPONENT = "[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*";
const OCI_REF_RE = anchor(OCI_REF_COMPONENT, repeated("/", OCI_REF_COMPONENT));
/** RFC 3986 scheme: anything written `scheme://…` is a transport, never a docker name. */
const URL_SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*$/;
/** docker-archive's `@N`: the N-th image of a multi-image archive. */
const ARCHIVE_INDEX_RE = /^@[0-9]+$/;

function transportPrefix(t: Transport): string {
  return t === "docker" ? "docker://" : `${t}:`;
}

function unknownTransport(name: string): UsageError {
  const list = SUPPORTED_TRANSPORTS.map(transportPrefix).join(", ");
  return new UsageError(`unknown transport "${name}": supported transports are ${list}`);
}

/**
 * Parses `TRANSPORT:REFERENCE` as skopeo does. A string with no transport is
 * a docker reference (`ubuntu`, `localhost:5000/a:1`). `oci:`, `oci-archive:`
 * and `docker-archive:` take `PATH[:REF]`, split at the first colon since
 * paths carry none; `dir:` takes a path. Throws {@linkcode UsageError}
 * (or {@linkcode InvalidReferenceError} for a bad docker reference).
 *
 * @example
 * ```ts
 * import { parseImageReference } from "./reference.ts";
 * const ref = parseImageReference("docker-archive:/tmp/a.tar:busybox:latest");
 * if (ref.transport === "docker-archive") console.log(ref.path, ref.reference); // "/tmp/a.tar" "busybox:latest"
 * console.log(parseImageReference("docker://alpine:3").toString()); // "docker://docker.io/library/alpine:3"
 * ```
 */
export function parseImageReference(s: string): ImageReference {
  const colon = s.indexOf(":");
  const scheme = colon === -1 ? "" : s.slice(0, colon);
  const rest = s.slice(colon + 1);
  switch (scheme) {
    case "docker":
      return parseDockerTransport(s, rest);
    case "oci":
    case "oci-archive":
    case "docker-archive":
      return parseLayoutTransport(s, scheme, rest);
    case "dir":
      return dirReference(s, rest);
  }
  if (
    UNSUPPORTED_TRANSPORTS.has(scheme) ||
    (URL_SCHEME_RE.test(scheme) && rest.startsWith("//"))
  ) {
    throw unknownTransport(scheme);
  }
  // No transport: "ubuntu:22.04", "localhost:5000/a/b" and "127.0.0.1:5000/x" all land here.
  try {
    return dockerImageReference(parseDockerReference(s));
  } catch (e) {
    // Not a reference either: "podman:/x" or "oci-layout:./dir" read as an unknown transport
    // (a port is digits, a tag never starts with "/" or ".").
    if (URL_SCHEME_RE.test(scheme) && !/^\d/.test(rest) && /^[/.~]/.test(rest)) {
      throw unknownTransport(scheme);
    }
    throw e;
  }
}

function parseDockerTransport(input: string, rest: string): ImageReference {
  if (!rest.startsWith("//")) {
    throw new UsageError(`invalid docker reference "${input}": must start with docker://`);
  }
  return dockerImageReference(parseDockerReference(rest.slice(2)));
}

function dockerImageReference(docker: DockerReference): ImageReference {
  return Object.freeze({
    transport: "docker" as const,
    docker,
    toString: () => `docker://${docker.toString()}`,
  });
}

function parseLayoutTransport(
  input: string,
  transport: "oci" | "oci-archive" | "docker-archive",
  rest: string,
): ImageReference {
  const colon = rest.indexOf(":");
  const path = colon === -1 ? rest : rest.slice(0, colon);
  const reference = colon === -1 ? undefined : rest.slice(colon + 1);
  if (path === "") throw new UsageError(`invalid ${transport} reference "${input}": empty path`);
  if (reference !== undefined) validateLayoutReference(input, transport, reference);
  const text = reference === undefined
    ? `${transport}:${path}`
    : `${transport}:${path}:${reference}`;
  return Object.freeze({
    transport,
    path,
    ...(reference === undefined ? {} : { reference }),
    toString: () => text,
  });
}

function validateLayoutReference(input: string, transport: Transport, reference: string): void {
  const invalid = (why: string) =>
    new UsageError(`invalid ${transport} reference "${input}": ${why}`);
  if (reference === "") throw invalid("empty image reference after the path");
  if (transport !== "docker-archive") {
    if (!OCI_REF_RE.test(reference)) throw invalid(`invalid image reference name "${reference}"`);
    return;
  }
  if (ARCHIVE_INDEX_RE.test(reference)) return;
  let named: DockerReference;
  try {
    named = parseDockerReference(reference);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new InvalidReferenceError(`invalid ${transport} reference "${input}": ${why}`, {
      cause: err,
    });
  }
  // docker-archive names images by RepoTags, which cannot carry digests.
  if (named.digest !== undefined) throw invalid("docker-archive doesn't support digest references");
}

function dirReference(input: string, path: string): ImageReference {
  if (path === "") throw new UsageError(`invalid dir reference "${input}": empty path`);
  return Object.freeze({ transport: "dir" as const, path, toString: () => `dir:${path}` });
}
