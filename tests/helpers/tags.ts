/**
 * Bulk tag creation for tests, straight over the registry HTTP API (no skopeo, no dtool).
 *
 * @module
 */
import type { Fixture } from "./images.ts";
import { registryFetch, type TestRegistry } from "./registry.ts";

/** All manifest media types the fixtures use (for `Accept`). */
const ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/**
 * Tags the manifest `manifestRef` in `repo` as each of `tags` by PUTting the same manifest bytes
 * under each tag (`Content-Type` = its media type), 16 requests at a time. `manifestRef` is a
 * {@linkcode Fixture} (its `raw`/`mediaType` are used) or an existing tag/digest in `repo`.
 */
export async function addTags(
  reg: TestRegistry,
  repo: string,
  tags: string[],
  manifestRef: Fixture | string,
): Promise<void> {
  let raw: Uint8Array;
  let mediaType: string;
  if (typeof manifestRef === "string") {
    const res = await registryFetch(reg, `/v2/${repo}/manifests/${manifestRef}`, {
      headers: { accept: ACCEPT },
    });
    if (res.status !== 200) {
      throw new Error(`GET manifest ${repo}:${manifestRef} -> ${res.status} ${res.text()}`);
    }
    raw = res.body;
    mediaType = (res.headers.get("content-type") ?? "").split(";")[0].trim();
  } else {
    raw = manifestRef.raw;
    mediaType = manifestRef.mediaType;
  }
  const queue = [...tags];
  const worker = async () => {
    for (let tag = queue.shift(); tag !== undefined; tag = queue.shift()) {
      const res = await registryFetch(reg, `/v2/${repo}/manifests/${tag}`, {
        method: "PUT",
        headers: { "content-type": mediaType },
        body: raw,
      });
      if (res.status !== 201) {
        throw new Error(`PUT manifest ${repo}:${tag} -> ${res.status} ${res.text()}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, tags.length) }, worker));
}
