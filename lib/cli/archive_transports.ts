/**
 * Openers of the archive transports (`oci-archive:`, `docker-archive:`) for
 * the transport table: an archive is written whole, so its end's `close()`
 * makes the copy visible and `discard()` drops it.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { type ImageReference, parseDockerReference } from "../reference.ts";
import type { Endpoint, EndpointOptions } from "./transports.ts";

/** Opens an `oci-archive:PATH[:REF]` end. */
export async function openOciArchive(
  image: ImageReference,
  _opts: EndpointOptions,
): Promise<Endpoint> {
  if (image.transport !== "oci-archive") throw new Error("unreachable");
  const { OciArchiveResolver } = await import("../archive/oci_archive.ts");
  const resolver = new OciArchiveResolver(image.path);
  return {
    transport: image.transport,
    resolver,
    ref: image.reference ?? "",
    tag: image.reference,
    name: "",
    repository: image.path,
    repositoryRef: "",
    namesImage: image.reference !== undefined,
    close: () => resolver.close(),
    discard: () => resolver.discard(),
    requestCount: () => 0,
    sharesPeerClient: false,
    holdsReferrers: true,
  };
}

/** Opens a `docker-archive:PATH[:REF]` end (`REF` a RepoTag, or `@N` for a source). */
export async function openDockerArchive(
  image: ImageReference,
  opts: EndpointOptions,
): Promise<Endpoint> {
  if (image.transport !== "docker-archive") throw new Error("unreachable");
  const ref = image.reference ?? "";
  const byPosition = ref.startsWith("@");
  if (opts.role === "destination" && byPosition) {
    throw new UsageError(
      `destination ${image}: @N picks an image to read; name the RepoTag to write`,
    );
  }
  const { DockerArchiveResolver } = await import("../archive/docker_archive.ts");
  const resolver = new DockerArchiveResolver(image.path, {
    additionalTags: opts.role === "destination" ? opts.additionalTags : undefined,
  });
  return {
    transport: image.transport,
    resolver,
    ref,
    tag: image.reference,
    // As skopeo prints it: the docker name of a named image.
    name: ref && !byPosition ? parseDockerReference(ref).name : "",
    repository: image.path,
    repositoryRef: ref,
    namesImage: image.reference !== undefined,
    close: () => resolver.close(),
    discard: () => resolver.discard(),
    requestCount: () => 0,
    sharesPeerClient: false,
    holdsReferrers: false,
  };
}
