/**
 * A raw body handed to a registry PUT (lib/remotes/passthrough.ts) belongs to the upload: when
 * the request fails before sending it (authorization, the endpoint), the upload must let it go,
 * or every retry leaks an open file (or a source connection). The descriptors of this process
 * open on the blob file are counted in /proc/PID/fd, by `ls` (Deno refuses to read /proc
 * without --allow-all).
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

/** How many file descriptors of this process are open on `path`. */
async function openOn(path: string): Promise<number> {
  const out = await new Deno.Command("ls", {
    args: ["-l", `/proc/${Deno.pid}/fd`],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.endsWith(` ${path}`))
    .length;
}

Deno.test({
  name: "a raw file body is released when the PUT fails before reading it",
  ignore: Deno.build.os !== "linux", // counts /proc/PID/fd
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
    for (let attempt = 0; attempt < 3; attempt++) {
      const body = await verifiedFileStream({ path }, desc);
      const writer = await pusher.push(desc);
      await assert.rejects(writer.consume!(body), /token server unreachable/);
      assert.equal(takeRawBody(body), undefined, "the raw body was taken by the upload");
    }
    // A cancelled file stream closes its file in a moment: wait for that, a leak never closes.
    let open = await openOn(path);
    for (let waited = 0; open > 0 && waited < 2000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
      open = await openOn(path);
    }
    assert.equal(open, 0, "every blob file was closed");
  } finally {
    await Deno.remove(path);
  }
}
