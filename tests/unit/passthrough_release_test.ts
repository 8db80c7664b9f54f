/**
 * A raw body handed to a registry PUT (lib/remotes/passthrough.ts) belongs to the upload: when
 * the request fails before sending it (authorization, the endpoint), the upload must let it go,
 * or every retry leaks an open file (or a source connection). The process's open files are
 * counted in /proc/self/fd.
 */
import assert from "node:assert/strict";
import { DockerPusher } from "../../lib/remotes/docker/pusher.ts";
import type { RegistryClient, RegistryRequest } from "../../lib/remotes/docker/http.ts";
import { verifiedFileStream } from "../../lib/local/files.ts";
import { PASSTHROUGH_MIN_SIZE, takeRawBody } from "../../lib/remotes/passthrough.ts";
import { computeDigest } from "../../lib/digest.ts";

/** A client that opens uploads and then fails every PUT without reading its body. */
function failingPutClient(): RegistryClient {
  return {
    request(req: RegistryRequest): Promise<Response> {
      if (req.method === "POST") {
        return Promise.resolve(
          new Response(null, { status: 202, headers: { location: "/v2/x/blobs/uploads/1" } }),
        );
      }
      if (req.method === "PUT") return Promise.reject(new Error("token server unreachable"));
      return Promise.resolve(new Response(null, { status: 204 }));
    },
  } as unknown as RegistryClient;
}

/** Open file descriptors of this process. */
function openFiles(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

Deno.test({
  name: "a raw file body is released when the PUT fails before reading it",
  ignore: Deno.build.os !== "linux", // counts /proc/self/fd
  fn: releasesRawBody,
});

async function releasesRawBody() {
  const path = await Deno.makeTempFile();
  try {
    const bytes = new Uint8Array(PASSTHROUGH_MIN_SIZE + 1).fill(7);
    await Deno.writeFile(path, bytes);
    const desc = {
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      digest: computeDigest(bytes),
      size: bytes.byteLength,
    };
    const pusher = new DockerPusher(failingPutClient(), "registry.example", "x");
    const before = openFiles();
    for (let attempt = 0; attempt < 3; attempt++) {
      const body = await verifiedFileStream({ path }, desc);
      const writer = await pusher.push(desc);
      await assert.rejects(writer.consume!(body), /token server unreachable/);
      assert.equal(takeRawBody(body), undefined, "the raw body was taken by the upload");
    }
    await new Promise((r) => setTimeout(r, 10)); // a cancelled file stream closes asynchronously
    assert.equal(openFiles(), before, "every blob file was closed");
  } finally {
    await Deno.remove(path);
  }
}
