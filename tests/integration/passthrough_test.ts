/**
 * Into a registry, a large blob's body goes from the source response (or a layout's blob file)
 * to the destination PUT unread (lib/remotes/passthrough.ts). The destination registry
 * then verifies the digest: corrupted source bytes must still never be stored or tagged.
 */
import assert from "node:assert/strict";
import { copyImage, DockerFetcher, DockerResolver, RegistryClient } from "../../mod.ts";
import { PASSTHROUGH_MIN_SIZE, takeRawBody } from "../../lib/remotes/passthrough.ts";
import { verifiedFileStream } from "../../lib/local/files.ts";
import { dtool, dtoolOk } from "../helpers/dtool.ts";
import { blobGet, startFaultProxy } from "../helpers/fault_proxy.ts";
import { pushOciImage } from "../helpers/images.ts";
import { startRegistry } from "../helpers/registry.ts";
import { skopeo, skopeoInspectRaw } from "../helpers/skopeo.ts";

const LAYER = PASSTHROUGH_MIN_SIZE + 4096;

Deno.test("large blobs are handed over unread; corrupted bytes are refused by the destination and fetched again", async (t) => {
  const src = await startRegistry();
  const dst = await startRegistry();
  const fx = await pushOciImage(src, "pass/app:1", { layers: 1, layerSize: LAYER });
  const layer = fx.layers![0];
  const proxy = await startFaultProxy(src.url, {
    rules: [{ match: blobGet(layer.digest), times: 1, fault: { kind: "corrupt" } }],
  });
  try {
    await t.step(
      "the fetcher offers large bodies, counted for a progress listener, never small ones",
      async () => {
        const client = new RegistryClient({});
        const fetcher = new DockerFetcher(client, src.host, "pass/app");
        const quiet = await fetcher.fetch(layer);
        const raw = takeRawBody(quiet);
        assert.ok(raw, "a large blob without onProgress is offered");
        await raw.cancel();
        const seen: number[] = [];
        const counted = await fetcher.fetch(layer, { onProgress: (n) => seen.push(n) });
        const rawCounted = takeRawBody(counted);
        assert.ok(rawCounted, "a large blob with onProgress is offered too");
        const got = new Uint8Array(await new Response(rawCounted).arrayBuffer());
        assert.equal(got.byteLength, layer.size);
        assert.equal(seen.at(-1), layer.size, "the listener saw every byte");
        assert.ok(seen.every((n, i) => i === 0 || n > seen[i - 1]), "counts only grow");
        const { digest, mediaType, raw: bytes } = fx.config!;
        const small = await fetcher.fetch({ digest, mediaType, size: bytes.byteLength });
        assert.equal(takeRawBody(small), undefined, "small blobs keep the verifying path");
        await small.cancel();
        await client.close();
      },
    );

    await t.step(
      "a corrupted download is refused by the registry, retried, then stored right",
      async () => {
        const result = await copyImage(
          { resolver: new DockerResolver({ retryDelayMs: 50 }), ref: `${proxy.host}/pass/app:1` },
          {
            resolver: new DockerResolver({ retryDelayMs: 50 }),
            ref: `${dst.host}/pass/app:1`,
            tag: "1",
          },
          {},
        );
        assert.equal(proxy.stats.byKind.corrupt, 1);
        assert.ok(result.retries >= 1, `retries ${result.retries}`);
        assert.deepEqual(await skopeoInspectRaw(`${dst.host}/pass/app:1`), fx.raw);
        // Every stored byte reads back with its digest (skopeo verifies as it copies).
        await skopeo([
          "copy",
          "--src-tls-verify=false",
          "--dest-tls-verify=false",
          `docker://${dst.host}/pass/app:1`,
          `docker://${dst.host}/pass/check:1`,
        ]);
      },
    );
  } finally {
    await proxy.stop();
    await src.stop();
    await dst.stop();
  }
});

Deno.test("a source that always corrupts a large blob leaves the destination tag unset, progress shown or not", async () => {
  const src = await startRegistry();
  const dst = await startRegistry();
  const fx = await pushOciImage(src, "pass/bad:1", { layers: 1, layerSize: LAYER });
  const proxy = await startFaultProxy(src.url, {
    rules: [{ match: blobGet(fx.layers![0].digest), fault: { kind: "corrupt" } }],
  });
  try {
    for (const onProgress of [undefined, () => {}]) {
      await assert.rejects(
        () =>
          copyImage(
            { resolver: new DockerResolver({ retryDelayMs: 10 }), ref: `${proxy.host}/pass/bad:1` },
            {
              resolver: new DockerResolver({ retryDelayMs: 10 }),
              ref: `${dst.host}/pass/bad:1`,
              tag: "1",
            },
            { retryTimes: 1, onProgress },
          ),
        /digest|invalid/i,
      );
      const res = await fetch(`${dst.url}/v2/pass/bad/manifests/1`, { method: "HEAD" });
      await res.body?.cancel();
      assert.equal(res.status, 404, "the tag was never written");
    }
  } finally {
    await proxy.stop();
    await src.stop();
    await dst.stop();
  }
});

Deno.test("a large layout blob goes to a registry unread; corrupted, it is refused and named", async (t) => {
  const src = await startRegistry();
  const dst = await startRegistry();
  const work = await Deno.makeTempDir({ prefix: "dtool_pass_layout_" });
  try {
    const fx = await pushOciImage(src, "pass/lay:1", { layers: 1, layerSize: LAYER });
    const layer = fx.layers![0];
    await dtoolOk(["copy", "-q", `docker://${fx.ref}`, `oci:${work}/l:1`]);
    const blobFile = (d: string) => `${work}/l/blobs/sha256/${d.slice(7)}`;

    await t.step("the file is offered whole, and only a whole file of the right size", async () => {
      const big = await verifiedFileStream({ path: blobFile(layer.digest) }, layer);
      const raw = takeRawBody(big);
      assert.ok(raw, "a large blob file is offered");
      assert.equal(
        (await new Response(raw).arrayBuffer()).byteLength,
        layer.size,
      );
      const config = fx.config!;
      const small = await verifiedFileStream({ path: blobFile(config.digest) }, {
        digest: config.digest,
        size: config.raw.byteLength,
      });
      assert.equal(takeRawBody(small), undefined, "a small blob keeps the verifying path");
      await small.cancel();
      const member = await verifiedFileStream({ path: blobFile(layer.digest), offset: 1 }, {
        digest: layer.digest,
        size: layer.size - 1,
      });
      assert.equal(takeRawBody(member), undefined, "a range of a file (an archive member) is read");
      await member.cancel();
      const wrongSize = await verifiedFileStream({ path: blobFile(layer.digest) }, {
        ...layer,
        size: layer.size + 1,
      });
      assert.equal(takeRawBody(wrongSize), undefined, "a file of another size is read");
      await wrongSize.cancel();
    });

    await t.step("the copy to a registry keeps every digest", async () => {
      await dtoolOk(["copy", "-q", `oci:${work}/l:1`, `docker://${dst.host}/pass/lay:1`]);
      assert.deepEqual(await skopeoInspectRaw(`${dst.host}/pass/lay:1`), fx.raw);
    });

    await t.step("a corrupted blob file: one line naming the blob, no tag", async () => {
      const bytes = await Deno.readFile(blobFile(layer.digest));
      bytes[bytes.length >> 1] ^= 0xff;
      await Deno.writeFile(blobFile(layer.digest), bytes);
      const r = await dtool([
        "copy",
        "-q",
        "--retry-times",
        "0",
        `oci:${work}/l:1`,
        `docker://${dst.host}/pass/bad:1`,
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(layer.digest));
      assert.match(r.stderr, /digest/i);
      const res = await fetch(`${dst.url}/v2/pass/bad/manifests/1`, { method: "HEAD" });
      await res.body?.cancel();
      assert.equal(res.status, 404, "the tag was never written");
    });
  } finally {
    await src.stop();
    await dst.stop();
    await Deno.remove(work, { recursive: true });
  }
});
