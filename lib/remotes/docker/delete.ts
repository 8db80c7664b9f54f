/**
 * Deleting manifests and tags from a registry: `DELETE` of a tag where the
 * registry supports it (distribution spec v1.1), else of the digest the tag
 * names (which removes every tag of it, as `crane delete` does).
 *
 * @module
 */
import { DtoolError, NotFoundError } from "../../errors.ts";
import type { DockerReference } from "../../reference.ts";
import { type RegistryClient, responseError } from "./http.ts";

/** What a delete removed. */
export interface Deleted {
  /** The digest deleted, or the tag's digest when the tag alone went. */
  digest?: string;
  /** True when the registry deleted just the tag. */
  tagOnly: boolean;
}

/**
 * Deletes the manifest `ref` names: by digest, or a tag (the tag alone
 * when the registry can, else the manifest it names).
 *
 * @example
 * ```ts ignore
 * import { deleteManifest } from "./delete.ts";
 * import { RegistryClient } from "./http.ts";
 * import { parseDockerReference } from "../../reference.ts";
 * await deleteManifest(new RegistryClient({}), parseDockerReference("localhost:5000/app:old"), resolveDigest);
 * ```
 */
export async function deleteManifest(
  client: RegistryClient,
  ref: DockerReference,
  resolveDigest: () => Promise<string>,
): Promise<Deleted> {
  const scope = `repository:${ref.path}:pull,push,delete`;
  const send = (target: string) =>
    client.request({
      host: ref.domain,
      method: "DELETE",
      path: `/v2/${ref.path}/manifests/${target}`,
      scope,
    });
  if (ref.digest === undefined) {
    const res = await send(ref.tag ?? "latest");
    if (res.status === 202 || res.status === 200) {
      await res.body?.cancel();
      return { tagOnly: true };
    }
    // distribution 2.8 answers a tag with DIGEST_INVALID (400); others 404 or 405.
    if (![400, 404, 405].includes(res.status)) throw await responseError(res, `tag ${ref}`);
    await res.body?.cancel();
  }
  const digest = ref.digest ?? await resolveDigest();
  const res = await send(digest);
  if (res.status === 202 || res.status === 200) {
    await res.body?.cancel();
    return { digest, tagOnly: false };
  }
  if (res.status === 405) {
    await res.body?.cancel();
    throw new DtoolError(
      `registry ${ref.domain} has deletes turned off (HTTP 405 UNSUPPORTED)`,
    );
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw new NotFoundError(`manifest ${ref.name}@${digest} not found`);
  }
  throw await responseError(res, `delete of ${ref.name}@${digest}`);
}
