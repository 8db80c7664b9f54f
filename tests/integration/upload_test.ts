/**
 * Chunked uploads (`--upload-chunk-size`): POST, PATCH per chunk, PUT with
 * the digest, against a real registry; resumed from the registry's own
 * offset when a chunk fails; and the way through a proxy that limits bodies.
 */
import assert from "node:assert/strict";
import { copyImage, DockerResolver } from "../../mod.ts";
import { dtool, dtoolOk } from "../helpers/dtool.ts";
import { startFaultProxy } from "../helpers/fault_proxy.ts";
import { pushOciImage } from "../helpers/images.ts";
import { startRegistry } from "../helpers/registry.ts";
import { skopeoInspectRaw } from "../helpers/skopeo.ts";

const isPatch = (req: Request) => req.method === "PATCH" && req.url.includes("/blobs/uploads/");

Deno.test("OCI-Chunk-Min-Length raises a chunk size smaller than the registry accepts", async () => {
  const src = await startRegistry();
  const dst = await startRegistry();
  const patchSizes: number[] = [];
  // A registry front that asks for chunks of at least 200 000 bytes and records what it gets.
  const front = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    if (req.method === "PATCH") patchSizes.push(body!.byteLength);
    const headers = new Headers(req.headers);
    headers.delete("host");
    const res = await fetch(dst.url + url.pathname + url.search, {
      method: req.method,
      headers,
      body,
    });
    const out = new Headers(res.headers);
    const location = out.get("location");
    if (location) {
      const u = new URL(location, dst.url);
      out.set("location", `http://127.0.0.1:${front.addr.port}${u.pathname}${u.search}`);
    }
    if (req.method === "POST" && url.pathname.endsWith("/blobs/uploads/")) {
      out.set("oci-chunk-min-length", "200000");
    }
    return new Response(res.body, { status: res.status, headers: out });
  });
  try {
    const fx = await pushOciImage(src, "min/app:1", { layers: 1, layerSize: 700_000 });
    await dtoolOk([
      "copy",
      "-q",
      "--upload-chunk-size",
      "64KiB",
      `docker://${fx.ref}`,
      `docker://127.0.0.1:${front.addr.port}/min/app:1`,
    ]);
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/min/app:1`), fx.raw);
    const layerPatches = patchSizes.filter((n) => n > 2000); // the config is one small chunk
    assert.ok(layerPatches.length >= 3, JSON.stringify(patchSizes));
    assert.ok(layerPatches.slice(0, -1).every((n) => n === 200_000), JSON.stringify(patchSizes));
  } finally {
    await front.shutdown();
    await src.stop();
    await dst.stop();
  }
});

Deno.test("chunked uploads: PATCH per chunk, resumed after a failed chunk, through a body limit", async (t) => {
  const src = await startRegistry();
  const dst = await startRegistry();
  try {
    const fx = await pushOciImage(src, "chunk/app:1", { layers: 2, layerSize: 300_000 });

    await t.step(
      "--upload-chunk-size sends each blob in PATCHes and the registry agrees",
      async () => {
        const r = await dtoolOk([
          "copy",
          "--debug",
          "--upload-chunk-size",
          "64KiB",
          `docker://${fx.ref}`,
          `docker://${dst.host}/chunk/app:1`,
        ]);
        assert.deepEqual(await skopeoInspectRaw(`${dst.host}/chunk/app:1`), fx.raw);
        const patches = r.stderr.split("\n").filter((l) => / PATCH .* 202 /.test(l));
        // Two ~300 kB layers in 64 KiB chunks, and the config in one.
        assert.ok(patches.length >= 2 * 5 + 1, `${patches.length} PATCHes`);
      },
    );

    // The destination behind a proxy: a body limit, and a chunk that fails once.
    const proxy = await startFaultProxy(dst.url, {
      rules: [
        {
          // A proxy that refuses request bodies over 128 KiB (streamed bodies have no length).
          match: (req) =>
            (req.method === "PUT" || req.method === "PATCH") &&
            (req.headers.has("transfer-encoding") ||
              Number(req.headers.get("content-length") ?? 0) > 128 * 1024),
          fault: { kind: "status", status: 413 },
        },
      ],
    });
    try {
      await t.step("a monolithic upload through the limit fails and writes no tag", async () => {
        const r = await dtool([
          "copy",
          "--retry-times",
          "0",
          `docker://${fx.ref}`,
          `docker://${proxy.host}/limited/app:1`,
        ]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr.trim().split("\n").at(-1)!, /HTTP 413/);
        await assert.rejects(skopeoInspectRaw(`${dst.host}/limited/app:1`));
      });

      await t.step("chunks under the limit get through", async () => {
        await dtoolOk([
          "copy",
          "-q",
          "--upload-chunk-size",
          "100KiB",
          `docker://${fx.ref}`,
          `docker://${proxy.host}/limited/app:1`,
        ]);
        assert.deepEqual(await skopeoInspectRaw(`${dst.host}/limited/app:1`), fx.raw);
      });

      await t.step("a chunk that fails is resumed from the registry's offset", async () => {
        let patches = 0;
        proxy.setSchedule({
          rules: [{
            // The third PATCH of the run fails (the registry never sees it).
            match: (req) => isPatch(req) && ++patches === 3,
            times: 1,
            fault: { kind: "status", status: 500 },
          }],
        });
        const resolver = new DockerResolver({ uploadChunkSize: 64 * 1024, retryDelayMs: 20 });
        const result = await copyImage(
          { resolver: new DockerResolver(), ref: fx.ref },
          { resolver, ref: `${proxy.host}/resumed/app:1`, tag: "1" },
          { jobs: 1 },
        );
        assert.equal(result.retries, 0, "the blob was not started over");
        const failed = proxy.log.filter((e) =>
          e.faults.some((f) => f.kind === "status" && f.status === 500)
        );
        assert.equal(failed.length, 1, "one chunk failed");
        const statusChecks = proxy.log.filter((e) =>
          e.method === "GET" && e.path.includes("/blobs/uploads/")
        );
        assert.equal(statusChecks.length, 1, "one upload status query");
        assert.deepEqual(await skopeoInspectRaw(`${dst.host}/resumed/app:1`), fx.raw);
      });
      await t.step("an upload that fails midway starts that blob again, and only it", async () => {
        proxy.setSchedule({
          rules: [{
            match: (req) => req.method === "PUT" && req.headers.has("transfer-encoding"),
            times: 1,
            fault: { kind: "status", status: 500 },
          }],
        });
        const result = await copyImage(
          { resolver: new DockerResolver(), ref: fx.ref },
          {
            resolver: new DockerResolver({ retryDelayMs: 20 }),
            ref: `${proxy.host}/restart/app:1`,
            tag: "1",
          },
          { retryDelayMs: 20 },
        );
        assert.equal(result.retries, 1, "one blob started again");
        assert.equal(result.transferred, 3);
        assert.deepEqual(await skopeoInspectRaw(`${dst.host}/restart/app:1`), fx.raw);
      });

      await t.step("a registry that answers a mount with 202 gets a normal upload", async () => {
        // The proxy sits in front of the destination registry; the copy stays inside it.
        await dtoolOk(["copy", "-q", `docker://${fx.ref}`, `docker://${dst.host}/mnt/a:1`]);
        proxy.setSchedule({
          rules: [{
            match: (req) => req.method === "POST" && new URL(req.url).searchParams.has("mount"),
            fault: { kind: "status", status: 202 },
          }],
        });
        const r = await dtoolOk([
          "copy",
          "--progress=json",
          `docker://${proxy.host}/mnt/a:1`,
          `docker://${proxy.host}/mnt/b:1`,
        ]);
        const refused = proxy.log.filter((e) =>
          e.faults.some((f) => f.kind === "status" && f.status === 202)
        );
        assert.equal(refused.length, 3, "every mount was refused");
        assert.equal(
          r.stderr.split("\n").filter((l) => l.includes('"type":"blob-done"')).length,
          3,
        );
        assert.deepEqual(await skopeoInspectRaw(`${dst.host}/mnt/b:1`), fx.raw);
      });
    } finally {
      await proxy.stop();
    }
  } finally {
    await src.stop();
    await dst.stop();
  }
});
