/**
 * The `oci:` and `dir:` transports end to end: dtool writes what skopeo and
 * umoci read with the source's digests, reads what skopeo writes, keeps
 * layouts consistent under concurrent writers, and never leaves a
 * half-written destination.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { copyImage, DockerResolver, OciResolver } from "../../mod.ts";
import { dtool, dtoolOk, sha256, spawnDtool } from "../helpers/dtool.ts";
import { pushDockerImage, pushOciImage, pushOciIndex } from "../helpers/images.ts";
import { startRegistry, type TestRegistry } from "../helpers/registry.ts";
import { skopeo, skopeoInspectRaw } from "../helpers/skopeo.ts";

const REF_NAME = "org.opencontainers.image.ref.name";

interface IndexJson {
  manifests: { digest: string; mediaType: string; annotations?: Record<string, string> }[];
}

async function readIndexJson(dir: string): Promise<IndexJson> {
  return JSON.parse(await Deno.readTextFile(join(dir, "index.json")));
}

async function listFiles(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile) out.set(e.name, await Deno.readFile(join(dir, e.name)));
  }
  return out;
}

async function withEnv(
  fn: (reg: TestRegistry, tmp: string) => Promise<void>,
): Promise<void> {
  const reg = await startRegistry();
  const tmp = await Deno.makeTempDir({ prefix: "dtool-local-" });
  try {
    await fn(reg, tmp);
  } finally {
    await reg.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

Deno.test("oci: layouts written by dtool are read by skopeo and umoci with the source digests", async (t) => {
  await withEnv(async (reg, tmp) => {
    const index = await pushOciIndex(reg, "src/index:1");
    const image = await pushOciImage(reg, "src/image:1", { layers: 3 });
    const layout = join(tmp, "layout");

    await t.step("--all of an index and a single image share one layout", async () => {
      await dtoolOk(["copy", "--all", "-q", `docker://${index.ref}`, `oci:${layout}:multi`]);
      await dtoolOk(["copy", "-q", `docker://${image.ref}`, `oci:${layout}:bench/small:1`]);
      const idx = await readIndexJson(layout);
      assert.deepEqual(
        idx.manifests.map((m) => [m.annotations?.[REF_NAME], m.digest]),
        [["multi", index.digest], ["bench/small:1", image.digest]],
      );
      assert.deepEqual(
        JSON.parse(await Deno.readTextFile(join(layout, "oci-layout"))),
        { imageLayoutVersion: "1.0.0" },
      );
    });

    await t.step("skopeo pushes each ref back to the registry with the source digest", async () => {
      for (const [ref, digest] of [["multi", index.digest], ["bench/small:1", image.digest]]) {
        const back = `${reg.host}/back/${ref.replace(/[:/]/g, "-")}:1`;
        await skopeo([
          "copy",
          "--all",
          "--preserve-digests",
          "--dest-tls-verify=false",
          `oci:${layout}:${ref}`,
          `docker://${back}`,
        ]);
        assert.equal(await sha256(await skopeoInspectRaw(back)), digest);
      }
    });

    await t.step("umoci lists the refs and reads the image", async () => {
      const out = new TextDecoder().decode(
        (await new Deno.Command("umoci", { args: ["ls", "--layout", layout] }).output()).stdout,
      );
      assert.deepEqual(out.trim().split("\n").sort(), ["bench/small:1", "multi"]);
      const stat = await new Deno.Command("umoci", {
        args: ["stat", "--json", "--image", `${layout}:bench/small:1`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(stat.success, new TextDecoder().decode(stat.stderr));
    });

    await t.step("list-tags and inspect read the layout", async () => {
      const tags = JSON.parse((await dtoolOk(["list-tags", `oci:${layout}`])).stdout);
      assert.deepEqual(tags, { Repository: layout, Tags: ["multi", "bench/small:1"] });
      const info = JSON.parse((await dtoolOk(["inspect", `oci:${layout}:bench/small:1`])).stdout);
      assert.equal(info.Digest, image.digest);
      assert.deepEqual(info.Layers, image.layers!.map((l) => l.digest));
      assert.deepEqual(info.RepoTags, ["multi", "bench/small:1"]);
      const raw = await dtoolOk(["inspect", "--raw", `oci:${layout}:multi`]);
      assert.deepEqual(raw.stdoutBytes, index.raw);
    });

    await t.step("a layout with several images needs a ref, and says which exist", async () => {
      const r = await dtool(["inspect", `oci:${layout}`]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /holds 2 images; name one of them: multi, bench\/small:1/);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      const missing = await dtool(["inspect", `oci:${layout}:nope`]);
      assert.equal(missing.code, 4);
      assert.match(missing.stderr, /no image named "nope"/);
    });

    await t.step(
      "a second image costs only its new blobs; replacing a ref keeps the others",
      async () => {
        const blobs = join(layout, "blobs", "sha256");
        const before = new Set([...await listFiles(blobs)].map(([n]) => n));
        const r = await dtoolOk([
          "copy",
          "--progress=json",
          `docker://${image.ref}`,
          `oci:${layout}:multi`,
        ]);
        const skipped = r.stderr.split("\n").filter((l) => l.includes('"blob-skip"'));
        assert.equal(skipped.length, 4, "config and three layers were already there");
        const after = new Set([...await listFiles(blobs)].map(([n]) => n));
        assert.deepEqual(after, before);
        const idx = await readIndexJson(layout);
        assert.deepEqual(
          idx.manifests.map((m) => [m.annotations?.[REF_NAME], m.digest]),
          [["bench/small:1", image.digest], ["multi", image.digest]],
        );
      },
    );
  });
});

Deno.test("oci: layouts written by skopeo are read by dtool with the same digests", async () => {
  await withEnv(async (reg, tmp) => {
    const index = await pushOciIndex(reg, "s/index:1");
    const docker = await pushDockerImage(reg, "s/docker:1");
    const layout = join(tmp, "skopeo-layout");
    await skopeo([
      "copy",
      "--all",
      "--preserve-digests",
      "--src-tls-verify=false",
      `docker://${index.ref}`,
      `oci:${layout}:idx`,
    ]);
    await skopeo([
      "copy",
      "--preserve-digests",
      "--src-tls-verify=false",
      `docker://${docker.ref}`,
      `oci:${layout}:dock`,
    ]);
    await dtoolOk(["copy", "--all", "-q", `oci:${layout}:idx`, `docker://${reg.host}/d/index:1`]);
    assert.equal(await sha256(await skopeoInspectRaw(`${reg.host}/d/index:1`)), index.digest);
    // skopeo 1.9 cannot resolve Docker-typed entries of a layout; dtool can.
    await dtoolOk(["copy", "-q", `oci:${layout}:dock`, `docker://${reg.host}/d/docker:1`]);
    const raw = await skopeoInspectRaw(`${reg.host}/d/docker:1`);
    assert.deepEqual(raw, docker.raw);
  });
});

Deno.test("oci: a Docker schema 2 image keeps its media type and digest in a layout", async () => {
  await withEnv(async (reg, tmp) => {
    const docker = await pushDockerImage(reg, "dock/app:1", { layers: 2 });
    const layout = join(tmp, "l");
    await dtoolOk(["copy", "-q", `docker://${docker.ref}`, `oci:${layout}:app`]);
    const [entry] = (await readIndexJson(layout)).manifests;
    assert.equal(entry.mediaType, "application/vnd.docker.distribution.manifest.v2+json");
    assert.equal(entry.digest, docker.digest);
    // Every blob the manifest names is in the layout, byte for byte by its digest.
    for (
      const d of [
        docker.config!.digest,
        ...docker.layers!.map((l) => l.digest),
        docker.digest,
      ]
    ) {
      const bytes = await Deno.readFile(join(layout, "blobs", "sha256", d.slice(7)));
      assert.equal(await sha256(bytes), d);
    }
  });
});

Deno.test("dir: dtool writes what skopeo writes, byte for byte, and reads it back", async (t) => {
  await withEnv(async (reg, tmp) => {
    const index = await pushOciIndex(reg, "dir/index:1");
    const image = await pushDockerImage(reg, "dir/image:1", { layers: 2 });
    for (
      const [name, ref, flags] of [
        ["single image", image.ref, []],
        ["--all of an index", index.ref, ["--all"]],
        ["one platform of an index", index.ref, ["--platform", "linux/arm64"]],
      ] as const
    ) {
      await t.step(name, async () => {
        const ours = join(tmp, `ours-${name.length}`);
        const theirs = join(tmp, `theirs-${name.length}`);
        await dtoolOk(["copy", "-q", ...flags, `docker://${ref}`, `dir:${ours}`]);
        const sflags = flags[0] === "--platform" ? ["--override-arch", "arm64"] : flags;
        await skopeo([
          "copy",
          ...sflags,
          "--src-tls-verify=false",
          `docker://${ref}`,
          `dir:${theirs}`,
        ]);
        assert.deepEqual(await listFiles(ours), await listFiles(theirs));
      });
    }

    await t.step("a dir: image written by skopeo goes back with its digest", async () => {
      const theirs = join(tmp, `theirs-${"--all of an index".length}`);
      await dtoolOk(["copy", "-q", "--all", `dir:${theirs}`, `docker://${reg.host}/back/index:1`]);
      assert.equal(await sha256(await skopeoInspectRaw(`${reg.host}/back/index:1`)), index.digest);
    });

    await t.step(
      "an existing dir: image is replaced and its old files go, after the root",
      async () => {
        const target = join(tmp, `ours-${"--all of an index".length}`);
        await dtoolOk(["copy", "-q", `docker://${image.ref}`, `dir:${target}`]);
        const theirs = join(tmp, `theirs-${"single image".length}`);
        assert.deepEqual(await listFiles(target), await listFiles(theirs));
      },
    );

    await t.step(
      "a non-empty directory that is not an image is refused and left alone",
      async () => {
        const other = join(tmp, "precious");
        await Deno.mkdir(other);
        await Deno.writeTextFile(join(other, "notes.txt"), "keep me");
        const r = await dtool(["copy", `docker://${image.ref}`, `dir:${other}`]);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /not empty and not an image directory/);
        assert.deepEqual([...(await listFiles(other)).keys()], ["notes.txt"]);
      },
    );
  });
});

Deno.test("docker → oci → dir → docker keeps the source digest", async () => {
  await withEnv(async (reg, tmp) => {
    const index = await pushOciIndex(reg, "chain/app:1");
    await dtoolOk(["copy", "-q", "--all", `docker://${index.ref}`, `oci:${tmp}/l:x`]);
    await dtoolOk(["copy", "-q", "--all", `oci:${tmp}/l:x`, `dir:${tmp}/d`]);
    await dtoolOk(["copy", "-q", "--all", `dir:${tmp}/d`, `docker://${reg.host}/chain/back:1`]);
    assert.equal(await sha256(await skopeoInspectRaw(`${reg.host}/chain/back:1`)), index.digest);
  });
});

Deno.test("a corrupt blob in a layout fails the copy, names the blob, and writes no tag", async () => {
  await withEnv(async (reg, tmp) => {
    const image = await pushOciImage(reg, "bad/app:1", { layers: 2 });
    const layout = join(tmp, "l");
    await dtoolOk(["copy", "-q", `docker://${image.ref}`, `oci:${layout}:1`]);
    const victim = image.layers![1].digest;
    const path = join(layout, "blobs", "sha256", victim.slice(7));
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 1] ^= 0xff;
    await Deno.writeFile(path, bytes);

    const r = await dtool(["copy", "-q", `oci:${layout}:1`, `docker://${reg.host}/bad/copy:1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`blob ${victim}`));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    await assert.rejects(skopeoInspectRaw(`${reg.host}/bad/copy:1`));

    // Into another layout: its index.json stays as it was and the bad blob never appears.
    const dest = join(tmp, "dest");
    await dtoolOk(["copy", "-q", `docker://${image.ref}`, `oci:${dest}:old`]);
    await Deno.remove(join(dest, "blobs", "sha256", victim.slice(7)));
    const before = await Deno.readTextFile(join(dest, "index.json"));
    const r2 = await dtool(["copy", "-q", `oci:${layout}:1`, `oci:${dest}:new`]);
    assert.equal(r2.code, 1);
    assert.equal(await Deno.readTextFile(join(dest, "index.json")), before);
    await assert.rejects(Deno.stat(join(dest, "blobs", "sha256", victim.slice(7))));
    const strays = [...(await listFiles(dest)).keys()].filter((n) => n.endsWith(".tmp"));
    assert.deepEqual(strays, [], "a failed write leaves no temporary file");
  });
});

Deno.test("concurrent writers of one layout keep every ref", async () => {
  await withEnv(async (reg, tmp) => {
    const images = await Promise.all(
      [0, 1, 2, 3].map((i) => pushOciImage(reg, `many/app:${i}`, { layers: 2 })),
    );
    const layout = join(tmp, "shared");
    const procs = images.map((img, i) =>
      spawnDtool(["copy", "-q", `docker://${img.ref}`, `oci:${layout}:app:${i}`])
    );
    const results = await Promise.all(procs.map((p) => p.output()));
    for (const r of results) assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const refs = (await readIndexJson(layout)).manifests.map((m) => m.annotations?.[REF_NAME]);
    assert.deepEqual(refs.sort(), ["app:0", "app:1", "app:2", "app:3"]);
  });
});

Deno.test("library: copyImage between a registry and an OciResolver", async () => {
  await withEnv(async (reg, tmp) => {
    const image = await pushOciImage(reg, "lib/app:1");
    const layout = new OciResolver(join(tmp, "lib"));
    const registry = new DockerResolver({ insecure: () => true });
    const result = await copyImage(
      { resolver: registry, ref: image.ref },
      { resolver: layout, ref: "v1", tag: "v1" },
    );
    assert.equal(result.digest, image.digest);
    assert.deepEqual(await layout.listTags(), ["v1"]);
    const again = await copyImage(
      { resolver: registry, ref: image.ref },
      { resolver: layout, ref: "v1", tag: "v1" },
    );
    assert.equal(again.upToDate, true, "a current ref is recognised without writing");
    assert.equal((await layout.resolve("v1")).descriptor.digest, image.digest);
  });
});

Deno.test("docker → oci → oci-archive → dir → docker-archive → docker keeps the digest", async (t) => {
  await withEnv(async (reg, tmp) => {
    await t.step("a single image, through every transport", async () => {
      const image = await pushDockerImage(reg, "chain/one:1", { layers: 2 });
      const hops = [
        `docker://${image.ref}`,
        `oci:${tmp}/one:x`,
        `oci-archive:${tmp}/one.tar:x`,
        `dir:${tmp}/one-dir`,
        `docker-archive:${tmp}/one-docker.tar:chain/one:1`,
        `docker://${reg.host}/chain/one-back:1`,
      ];
      for (let i = 1; i < hops.length; i++) await dtoolOk(["copy", "-q", hops[i - 1], hops[i]]);
      assert.equal(
        await sha256(await skopeoInspectRaw(`${reg.host}/chain/one-back:1`)),
        image.digest,
      );
    });
    await t.step("--all of an index, through every transport that holds one", async () => {
      const index = await pushOciIndex(reg, "chain/all:1");
      const hops = [
        `docker://${index.ref}`,
        `oci:${tmp}/all:x`,
        `oci-archive:${tmp}/all.tar:x`,
        `dir:${tmp}/all-dir`,
        `docker://${reg.host}/chain/all-back:1`,
      ];
      for (let i = 1; i < hops.length; i++) {
        await dtoolOk(["copy", "-q", "--all", hops[i - 1], hops[i]]);
      }
      assert.equal(
        await sha256(await skopeoInspectRaw(`${reg.host}/chain/all-back:1`)),
        index.digest,
      );
      const refused = await dtool([
        "copy",
        "--all",
        `dir:${tmp}/all-dir`,
        `docker-archive:${tmp}/x.tar:a:1`,
      ]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
      await assert.rejects(Deno.stat(`${tmp}/x.tar`));
    });
  });
});
