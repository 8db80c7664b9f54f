/**
 * The one table that turns a `TRANSPORT:REFERENCE` argument into an
 * {@linkcode Endpoint}: a resolver and the reference in its grammar. Every
 * command goes through it; nothing else in the CLI knows which transports
 * exist. Each transport's code is imported only when it is used.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { type ImageReference, repositoryOnly, type Transport } from "../reference.ts";
import type { Resolver } from "../remotes/remotes.ts";
import type { RegistryClient } from "../remotes/docker/http.ts";
import { type EndSettings, makeResolver } from "./common.ts";

/** One end of a command: where to resolve, and what. */
export interface Endpoint {
  /** The transport it goes through. */
  transport: Transport;
  /** The resolver of that transport. */
  resolver: Resolver;
  /** The reference in the resolver's grammar (`""` for a layout's only image). */
  ref: string;
  /** The tag a destination root is written under, if any. */
  tag?: string;
  /** The digest a destination root must have, if named by digest. */
  digest?: string;
  /** The image name as skopeo's inspect prints it (`""` where there is none). */
  name: string;
  /** What list-tags prints as `Repository`. */
  repository: string;
  /** The reference whose tags list-tags and inspect's RepoTags list. */
  repositoryRef: string;
  /** True when the transport can keep referrers and digest tags beside an image. */
  holdsReferrers: boolean;
  /** True when `ref` names a tag or digest (list-tags wants none). */
  namesImage: boolean;
  /** Makes what was written visible (archives are written whole); no-op elsewhere. */
  close(): Promise<void>;
  /** Drops what was written after a failure (a half-written archive); no-op elsewhere. */
  discard(): Promise<void>;
  /** HTTP requests made so far (0 for local transports). */
  requestCount(): number;
  /** True when this end shares its peer's HTTP client (its count is the peer's). */
  sharesPeerClient: boolean;
}

/** What an end needs besides its reference. */
export interface EndpointOptions extends EndSettings {
  /** Which end this is: a destination may be created. */
  role: "source" | "destination";
  /** The other end of a copy (the source, when opening its destination). */
  peer?: Endpoint;
  /**
   * HTTP clients of this run by role and registry: endpoints opened with the same map share
   * one connection pool and token cache per registry (sync opens hundreds of endpoints).
   */
  clients?: Map<string, Promise<RegistryClient>>;
  /** More RepoTags for a docker-archive destination (`--additional-tag`). */
  additionalTags?: string[];
}

type Opener = (image: ImageReference, opts: EndpointOptions) => Promise<Endpoint>;

const noop = () => Promise.resolve();

/** The table: one opener per transport. */
const OPENERS: Record<Transport, Opener> = {
  docker: openDocker,
  oci: openOci,
  "oci-archive": (i, o) => import("./archive_transports.ts").then((m) => m.openOciArchive(i, o)),
  "docker-archive": (i, o) =>
    import("./archive_transports.ts").then((m) => m.openDockerArchive(i, o)),
  dir: openDir,
};

/**
 * Opens one end of a command through the transport table.
 *
 * @example
 * ```ts ignore
 * import { parseImageReference } from "../reference.ts";
 * import { openEndpoint } from "./transports.ts";
 * const end = await openEndpoint(parseImageReference("oci:/tmp/layout:1"), {
 *   role: "source", credsFlag: "--creds", tlsVerify: true, debug: false,
 * });
 * console.log(end.ref); // "1"
 * ```
 */
export function openEndpoint(image: ImageReference, opts: EndpointOptions): Promise<Endpoint> {
  return OPENERS[image.transport](image, opts);
}

async function openDocker(image: ImageReference, opts: EndpointOptions): Promise<Endpoint> {
  if (image.transport !== "docker") throw new Error("unreachable");
  const d = image.docker;
  const destination = opts.role === "destination";
  if (destination && d.tag !== undefined && d.digest !== undefined) {
    throw new UsageError(
      `destination ${image} has both a tag and a digest; give one (a tag to write, or a digest to check)`,
    );
  }
  // A copy inside one registry with the same settings shares one client (one ping, one pool
  // of connections, one token cache), and asks for a token that also covers the source, so
  // blobs can be mounted with it.
  const peer = opts.peer?.transport === "docker" ? opts.peer : undefined;
  const peerRef = peer ? (peer as DockerEndpoint).docker : undefined;
  const sameRegistry = peerRef?.domain === d.domain;
  const share = sameRegistry && (peer as DockerEndpoint).settings.creds === opts.creds &&
    (peer as DockerEndpoint).settings.tlsVerify === opts.tlsVerify &&
    (peer as DockerEndpoint).settings.certDir === opts.certDir;
  const peerResolver = peer?.resolver as import("../remotes/docker/resolver.ts").DockerResolver;
  const resolver = await makeResolver({
    ...opts,
    forPush: destination,
    mountFrom: sameRegistry ? peerRef!.path : undefined,
    client: share ? peerResolver.client : await pooledClient(d.domain, opts),
  });
  const end: DockerEndpoint = {
    transport: "docker",
    resolver,
    ref: d.toString(),
    tag: destination ? d.tag ?? (d.digest ? undefined : "latest") : undefined,
    digest: d.digest,
    name: d.name,
    repository: d.name,
    repositoryRef: repositoryOnly(d).toString(),
    namesImage: d.tag !== undefined || d.digest !== undefined,
    holdsReferrers: true,
    close: noop,
    discard: noop,
    requestCount: () => resolver.client.requests,
    sharesPeerClient: share,
    docker: d,
    settings: opts,
  };
  return end;
}

/** The run's client for this role and registry, made on first use; none without a pool. */
function pooledClient(domain: string, opts: EndpointOptions): Promise<RegistryClient> | undefined {
  if (!opts.clients) return undefined;
  const key = `${opts.role} ${domain}`;
  let client = opts.clients.get(key);
  if (!client) {
    client = makeResolver({ ...opts, client: undefined }).then((r) => r.client);
    opts.clients.set(key, client);
  }
  return client;
}

/** A docker end keeps its parsed reference and settings, for its peer to compare. */
interface DockerEndpoint extends Endpoint {
  docker: import("../reference.ts").DockerReference;
  settings: EndpointOptions;
}

async function openOci(image: ImageReference, _opts: EndpointOptions): Promise<Endpoint> {
  if (image.transport !== "oci") throw new Error("unreachable");
  const { OciResolver } = await import("../oci/resolver.ts");
  const { tagOfRef } = await import("../oci/layout_referrers.ts");
  return {
    ...layoutEndpoint(image.transport, new OciResolver(image.path), image.path, image.reference),
    // The pusher puts the ref's repository part back: `app:1` is written as `app:` + `1`.
    tag: image.reference === undefined ? undefined : tagOfRef(image.reference),
    holdsReferrers: true,
  };
}

async function openDir(image: ImageReference, _opts: EndpointOptions): Promise<Endpoint> {
  if (image.transport !== "dir") throw new Error("unreachable");
  const { DirResolver } = await import("../dir/resolver.ts");
  return layoutEndpoint(image.transport, new DirResolver(image.path), image.path, undefined);
}

function layoutEndpoint(
  transport: Transport,
  resolver: Resolver,
  path: string,
  reference: string | undefined,
): Endpoint {
  return {
    transport,
    resolver,
    ref: reference ?? "",
    tag: reference,
    name: "",
    repository: path,
    repositoryRef: "",
    namesImage: reference !== undefined,
    holdsReferrers: false,
    close: noop,
    discard: noop,
    requestCount: () => 0,
    sharesPeerClient: false,
  };
}
