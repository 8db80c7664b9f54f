/**
 * `oci-archive:` and `docker-archive:` end to end against a real registry,
 * with skopeo as the judge in both directions: what dtool writes, skopeo
 * reads and pushes with the source digest; what skopeo writes, dtool reads
 * and pushes with the same digest. Docker 25+, containerd and legacy
 * archives are built here from the documented format.
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { dtool, dtoolOk } from "../helpers/dtool.ts";
import {
  buildImage,
  type BuiltImage,
  makeTar,
  MediaTypes,
  pushDockerImage,
  pushOciImage,
  pushOciIndex,
  sha256Digest,
} from "../helpers/images.ts";
import { startRegistry, type TestRegistry } from "../helpers/registry.ts";
import { skopeo, skopeoInspectRaw } from "../helpers/skopeo.ts";
import { buildTar, type TarEntry } from "../helpers/tar_build.ts";

const enc = new TextEncoder();
const hex = (d: string) => d.slice("sha256:".length);

async function withRegistry(
  fn: (reg: TestRegistry, dir: string) => Promise<void>,
): Promise<void> {
  const reg = await startRegistry();
  const dir = await Deno.makeTempDir({ prefix: "dtool-archive-" });
  try {
    await fn(reg, dir);
  } finally {
    await reg.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The digest the registry serves for `ref`, read by skopeo. */
async function servedDigest(ref: string): Promise<string> {
  return sha256Digest(await skopeoInspectRaw(ref));
}

async function exists(ref: string): Promise<boolean> {
  return await skopeoInspectRaw(ref).then(() => true, () => false);
}

/** The members of a tar file, read with GNU tar (an outside reader). */
async function untar(path: string): Promise<Map<string, Uint8Array>> {
  const dir = await Deno.makeTempDir({ prefix: "dtool-untar-" });
  try {
    const out = await new Deno.Command("tar", { args: ["xf", path, "-C", dir] }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const files = new Map<string, Uint8Array>();
    const walk = async (sub: string) => {
      for await (const e of Deno.readDir(`${dir}/${sub}`)) {
        const name = sub ? `${sub}/${e.name}` : e.name;
        if (e.isDirectory) await walk(name);
        else files.set(name, await Deno.readFile(`${dir}/${name}`));
      }
    };
    await walk("");
    return files;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts one line on stderr naming the operation, and a failure exit code. */
function assertOneLineFailure(r: { code: number; stderr: string }, pattern: RegExp): void {
  assert.notEqual(r.code, 0, "non-zero exit");
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^dtool: (copy|inspect|list-tags) /);
  assert.match(lines[0], pattern);
  assert.ok(!/\bat .*\.ts:\d+/.test(r.stderr), "no stack trace");
}

Deno.test("oci-archive: what dtool writes, skopeo reads and pushes with the source digest", async () => {
  await withRegistry(async (reg, dir) => {
    const img = await pushOciImage(reg, "src/img:1", { layers: 3, layerSize: 20_000 });
    const idx = await pushOciIndex(reg, "src/idx:1", undefined, { layerSize: 3000 });
    await dtoolOk(["copy", "-q", `docker://${img.ref}`, `oci-archive:${dir}/img.tar:v1`]);
    await dtoolOk(["copy", "-q", "--all", `docker://${idx.ref}`, `oci-archive:${dir}/idx.tar:all`]);
    const files = await untar(`${dir}/img.tar`);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(files.get("oci-layout"))), {
      imageLayoutVersion: "1.0.0",
    });
    for (const [name, bytes] of files) {
      if (name.startsWith("blobs/")) {
        assert.equal(sha256Digest(bytes), `sha256:${name.split("/")[2]}`);
      }
    }
    await skopeo([
      "copy",
      "--dest-tls-verify=false",
      `oci-archive:${dir}/img.tar:v1`,
      `docker://${reg.host}/judge/img:1`,
    ]);
    assert.equal(await servedDigest(`${reg.host}/judge/img:1`), img.digest);
    await skopeo([
      "copy",
      "--all",
      "--dest-tls-verify=false",
      `oci-archive:${dir}/idx.tar:all`,
      `docker://${reg.host}/judge/idx:1`,
    ]);
    assert.equal(await servedDigest(`${reg.host}/judge/idx:1`), idx.digest);

    const tags = JSON.parse((await dtoolOk(["list-tags", `oci-archive:${dir}/img.tar`])).stdout);
    assert.deepEqual(tags, { Repository: `${dir}/img.tar`, Tags: ["v1"] });
    const info = JSON.parse((await dtoolOk(["inspect", `oci-archive:${dir}/img.tar:v1`])).stdout);
    assert.equal(info.Name, "");
    assert.equal(info.Digest, img.digest);
    assert.deepEqual(info.RepoTags, ["v1"]);
    assert.deepEqual(info.Layers, img.layers!.map((l) => l.digest));
    const raw = (await dtoolOk(["inspect", "--raw", `oci-archive:${dir}/img.tar`])).stdoutBytes;
    assert.equal(sha256Digest(raw), img.digest, "the only image needs no ref");
  });
});

Deno.test("oci-archive: what skopeo writes, dtool reads and pushes with the same digest", async () => {
  await withRegistry(async (reg, dir) => {
    const img = await pushDockerImage(reg, "src/img:1", { layers: 2, layerSize: 10_000 });
    const idx = await pushOciIndex(reg, "src/idx:1", undefined, { layerSize: 2000 });
    await skopeo([
      "copy",
      "--preserve-digests",
      "--src-tls-verify=false",
      `docker://${img.ref}`,
      `oci-archive:${dir}/img.tar:one`,
    ]);
    await skopeo([
      "copy",
      "--all",
      "--preserve-digests",
      "--src-tls-verify=false",
      `docker://${idx.ref}`,
      `oci-archive:${dir}/idx.tar:many`,
    ]);
    await dtoolOk(["copy", "-q", `oci-archive:${dir}/img.tar:one`, `docker://${reg.host}/d/img:1`]);
    assert.equal(await servedDigest(`${reg.host}/d/img:1`), img.digest);
    await dtoolOk([
      "copy",
      "-q",
      "--all",
      `oci-archive:${dir}/idx.tar:many`,
      `docker://${reg.host}/d/idx:1`,
    ]);
    assert.equal(await servedDigest(`${reg.host}/d/idx:1`), idx.digest);
    // --platform chooses from the archive's index as from a registry's.
    await dtoolOk([
      "copy",
      "-q",
      "--platform",
      "linux/arm/v7",
      `oci-archive:${dir}/idx.tar:many`,
      `docker://${reg.host}/d/arm:1`,
    ]);
    assert.equal(await servedDigest(`${reg.host}/d/arm:1`), idx.children![2].digest);
  });
});

Deno.test("docker-archive: what dtool writes, docker load's format and OCI tools read", async () => {
  await withRegistry(async (reg, dir) => {
    const img = await pushOciImage(reg, "src/img:1", { layers: 2, layerSize: 10_000 });
    const dimg = await pushDockerImage(reg, "src/dimg:1", { layers: 2, layerSize: 10_000 });
    await dtoolOk([
      "copy",
      "-q",
      "--additional-tag",
      "localhost:5000/other:2",
      `docker://${img.ref}`,
      `docker-archive:${dir}/img.tar:app:1`,
    ]);
    const files = await untar(`${dir}/img.tar`);
    const manifestJson = JSON.parse(new TextDecoder().decode(files.get("manifest.json")));
    assert.deepEqual(manifestJson, [{
      Config: `blobs/sha256/${hex(img.config!.digest)}`,
      RepoTags: ["app:1", "localhost:5000/other:2"],
      Layers: img.layers!.map((l) => `blobs/sha256/${hex(l.digest)}`),
    }]);
    for (const [name, bytes] of files) {
      if (name.startsWith("blobs/")) {
        assert.equal(sha256Digest(bytes), `sha256:${name.split("/")[2]}`);
      }
    }
    assert.ok(files.has("oci-layout"));
    // An OCI tool finds the image by the tag in index.json and pushes it with the source digest.
    await skopeo([
      "copy",
      "--dest-tls-verify=false",
      `oci-archive:${dir}/img.tar:1`,
      `docker://${reg.host}/judge/img:1`,
    ]);
    assert.equal(await servedDigest(`${reg.host}/judge/img:1`), img.digest);
    // skopeo's docker-archive reader (docker load's view) keeps the config: same image ID.
    await skopeo([
      "copy",
      "--dest-tls-verify=false",
      `docker-archive:${dir}/img.tar:localhost:5000/other:2`,
      `docker://${reg.host}/judge/load:1`,
    ]);
    const config = await skopeo([
      "inspect",
      "--config",
      "--raw",
      "--tls-verify=false",
      `docker://${reg.host}/judge/load:1`,
    ]);
    assert.equal(sha256Digest(enc.encode(config)), img.config!.digest);

    // A Docker-typed image: skopeo 1.9 skips it in index.json, so check the bytes by hashing.
    await dtoolOk(["copy", "-q", `docker://${dimg.ref}`, `docker-archive:${dir}/dimg.tar:app:2`]);
    const dfiles = await untar(`${dir}/dimg.tar`);
    const index = JSON.parse(new TextDecoder().decode(dfiles.get("index.json")));
    assert.equal(index.manifests[0].digest, dimg.digest);
    assert.equal(
      index.manifests[0].annotations["io.containerd.image.name"],
      "docker.io/library/app:2",
    );
    assert.equal(sha256Digest(dfiles.get(`blobs/sha256/${hex(dimg.digest)}`)!), dimg.digest);
    for (const l of dimg.layers!) assert.ok(dfiles.has(`blobs/sha256/${hex(l.digest)}`));

    const tags = JSON.parse((await dtoolOk(["list-tags", `docker-archive:${dir}/img.tar`])).stdout);
    assert.deepEqual(tags, {
      Repository: `${dir}/img.tar`,
      Tags: ["app:1", "localhost:5000/other:2"],
    });
    const info = JSON.parse(
      (await dtoolOk(["inspect", `docker-archive:${dir}/img.tar:app:1`])).stdout,
    );
    assert.equal(info.Name, "docker.io/library/app");
    assert.equal(info.Digest, img.digest);
    assert.deepEqual(info.RepoTags, ["app:1", "localhost:5000/other:2"]);
    const byIndex = JSON.parse(
      (await dtoolOk(["inspect", `docker-archive:${dir}/img.tar:@0`])).stdout,
    );
    assert.equal(byIndex.Name, "");
    assert.equal(byIndex.Digest, img.digest);
  });
});

Deno.test("docker-archive: what skopeo writes (legacy form), dtool reads with the config kept", async () => {
  await withRegistry(async (reg, dir) => {
    const img = await pushDockerImage(reg, "src/img:1", { layers: 2, layerSize: 50_000 });
    await skopeo([
      "copy",
      "--src-tls-verify=false",
      `docker://${img.ref}`,
      `docker-archive:${dir}/s.tar:sk/app:1`,
    ]);
    await dtoolOk([
      "copy",
      "-q",
      `docker-archive:${dir}/s.tar:sk/app:1`,
      `docker://${reg.host}/d/s:1`,
    ]);
    await dtoolOk(["copy", "-q", `docker-archive:${dir}/s.tar:@0`, `docker://${reg.host}/d/s:2`]);
    const made = await servedDigest(`${reg.host}/d/s:1`);
    assert.equal(await servedDigest(`${reg.host}/d/s:2`), made, "the made manifest is stable");
    const m = JSON.parse(new TextDecoder().decode(await skopeoInspectRaw(`${reg.host}/d/s:1`)));
    assert.equal(m.mediaType, MediaTypes.dockerManifest);
    assert.equal(
      m.config.digest,
      img.config!.digest,
      "config bytes kept: the image ID is unchanged",
    );
    assert.deepEqual(m.layers.map((l: { mediaType: string }) => l.mediaType), [
      MediaTypes.dockerLayerGzip,
      MediaTypes.dockerLayerGzip,
    ]);
    // skopeo pulls it whole (it checks every layer against the config's diff_ids).
    await skopeo([
      "copy",
      "--src-tls-verify=false",
      `docker://${reg.host}/d/s:1`,
      `dir:${dir}/check`,
    ]);
  });
});

/** The layers of `img` uncompressed (a Docker 25+ archive stores them so, named by diff ID). */
function uncompressedImage(): {
  manifest: Uint8Array;
  digest: string;
  entries: TarEntry[];
  configDigest: string;
} {
  const layers = [0, 1].map((i) =>
    makeTar(`f${i}`, crypto.getRandomValues(new Uint8Array(3000 + i)))
  );
  const config = enc.encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: layers.map(sha256Digest) },
  }));
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: sha256Digest(config), size: config.length },
    layers: layers.map((l) => ({
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      digest: sha256Digest(l),
      size: l.length,
    })),
  }));
  const digest = sha256Digest(manifest);
  const blob = (b: Uint8Array): TarEntry => ({
    path: `blobs/sha256/${hex(sha256Digest(b))}`,
    data: b,
  });
  const index = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [{
      mediaType: MediaTypes.ociManifest,
      digest,
      size: manifest.length,
      annotations: {
        "io.containerd.image.name": "docker.io/library/app:25",
        "org.opencontainers.image.ref.name": "25",
      },
    }],
  };
  const entries: TarEntry[] = [
    { path: "blobs/", type: "Directory" },
    { path: "blobs/sha256/", type: "Directory" },
    ...layers.map(blob),
    blob(config),
    blob(manifest),
    { path: "index.json", data: enc.encode(JSON.stringify(index)) },
    {
      path: "manifest.json",
      data: enc.encode(JSON.stringify([{
        Config: `blobs/sha256/${hex(sha256Digest(config))}`,
        RepoTags: ["app:25"],
        Layers: layers.map((l) => `blobs/sha256/${hex(sha256Digest(l))}`),
      }])),
    },
    { path: "oci-layout", data: enc.encode('{"imageLayoutVersion":"1.0.0"}') },
    { path: "repositories", data: enc.encode('{"app":{"25":"x"}}') },
  ];
  return { manifest, digest, entries, configDigest: sha256Digest(config) };
}

/** A containerd export: compressed blobs, an index naming two platforms of which one is present. */
function containerdArchive(img: BuiltImage): { entries: TarEntry[] } {
  const other = "sha256:" + "0".repeat(64);
  const index = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [
      {
        mediaType: img.mediaType,
        digest: img.digest,
        size: img.manifest.length,
        platform: { os: "linux", architecture: "amd64" },
      },
      {
        mediaType: img.mediaType,
        digest: other,
        size: 500,
        platform: { os: "linux", architecture: "arm64" },
      },
    ],
  }));
  const top = {
    schemaVersion: 2,
    manifests: [{
      mediaType: MediaTypes.ociIndex,
      digest: sha256Digest(index),
      size: index.length,
      annotations: { "io.containerd.image.name": "registry.example/team/app:7" },
    }],
  };
  const blobs = [index, img.manifest, ...img.blobs.values()];
  return {
    entries: [
      { path: "oci-layout", data: enc.encode('{"imageLayoutVersion":"1.0.0"}') },
      ...blobs.map((b) => ({ path: `blobs/sha256/${hex(sha256Digest(b))}`, data: b })),
      { path: "index.json", data: enc.encode(JSON.stringify(top)) },
      {
        path: "manifest.json",
        data: enc.encode(JSON.stringify([{
          Config: `blobs/sha256/${hex(img.config.digest)}`,
          RepoTags: ["registry.example/team/app:7"],
          Layers: img.layers.map((l) => `blobs/sha256/${hex(l.digest)}`),
        }])),
      },
    ],
  };
}

/** A legacy `docker save` (before 25): `<id>.json`, `<layer>/layer.tar` (a link to another), `repositories`. */
function legacyArchive(): { entries: TarEntry[]; configDigest: string; diffIds: string[] } {
  const layers = [0, 1].map((i) =>
    makeTar(`g${i}`, crypto.getRandomValues(new Uint8Array(5000 + i)))
  );
  const diffIds = layers.map(sha256Digest);
  const config = enc.encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: { Env: ["A=1"] },
    rootfs: { type: "layers", diff_ids: diffIds },
  }));
  const id = hex(sha256Digest(config));
  const ids = ["a".repeat(64), "b".repeat(64)];
  return {
    configDigest: sha256Digest(config),
    diffIds,
    entries: [
      { path: `${ids[0]}/`, type: "Directory" },
      { path: `${ids[0]}/VERSION`, data: enc.encode("1.0") },
      { path: `${ids[0]}/json`, data: enc.encode("{}") },
      { path: `${ids[0]}/layer.tar`, data: layers[0] },
      { path: `${ids[1]}/`, type: "Directory" },
      { path: `${ids[1]}/layer.tar`, type: "SymbolicLink", linkpath: `../${hex(diffIds[1])}.tar` },
      { path: `${hex(diffIds[1])}.tar`, data: layers[1] },
      { path: `${id}.json`, data: config },
      {
        path: "manifest.json",
        data: enc.encode(JSON.stringify([{
          Config: `${id}.json`,
          RepoTags: ["old/app:1"],
          Layers: ids.map((i) => `${i}/layer.tar`),
        }])),
      },
      { path: "repositories", data: enc.encode(`{"old/app":{"1":"${ids[1]}"}}`) },
    ],
  };
}

Deno.test("docker-archive: Docker 25+, containerd and legacy archives are read as their formats say", async (t) => {
  await withRegistry(async (reg, dir) => {
    await t.step("Docker 25+: the OCI manifest inside is served byte for byte", async () => {
      const built = uncompressedImage();
      await Deno.writeFile(`${dir}/d25.tar`, buildTar(built.entries));
      await dtoolOk([
        "copy",
        "-q",
        `docker-archive:${dir}/d25.tar:docker.io/library/app:25`,
        `docker://${reg.host}/d25:1`,
      ]);
      assert.equal(await servedDigest(`${reg.host}/d25:1`), built.digest);
      await skopeo([
        "copy",
        "--src-tls-verify=false",
        `docker://${reg.host}/d25:1`,
        `dir:${dir}/d25check`,
      ]);
    });
    await t.step(
      "containerd: the manifest is found below the index, compressed blobs kept",
      async () => {
        const img = buildImage("oci", { layers: 2, layerSize: 4000 });
        await Deno.writeFile(`${dir}/ctr.tar`, buildTar(containerdArchive(img).entries));
        await dtoolOk([
          "copy",
          "-q",
          `docker-archive:${dir}/ctr.tar:registry.example/team/app:7`,
          `docker://${reg.host}/ctr:1`,
        ]);
        assert.equal(await servedDigest(`${reg.host}/ctr:1`), img.digest);
      },
    );
    await t.step("legacy: a schema 2 manifest is made, config kept, links followed", async () => {
      const legacy = legacyArchive();
      await Deno.writeFile(`${dir}/old.tar`, buildTar(legacy.entries));
      await dtoolOk(["copy", "-q", `docker-archive:${dir}/old.tar`, `docker://${reg.host}/old:1`]);
      const m = JSON.parse(new TextDecoder().decode(await skopeoInspectRaw(`${reg.host}/old:1`)));
      assert.equal(m.config.digest, legacy.configDigest);
      assert.equal(m.layers.length, 2);
      // The layers pulled back decompress to the diff IDs the config names.
      await skopeo([
        "copy",
        "--src-tls-verify=false",
        `docker://${reg.host}/old:1`,
        `dir:${dir}/oldcheck`,
      ]);
      for (const [i, l] of m.layers.entries()) {
        const gz = await Deno.readFile(`${dir}/oldcheck/${hex(l.digest)}`);
        assert.equal(sha256Digest(new Uint8Array(gunzipSync(gz))), legacy.diffIds[i]);
      }
    });
    await t.step("legacy: a layer that is not its diff_id fails naming the layer", async () => {
      const legacy = legacyArchive();
      const bad = legacy.entries.map((e) =>
        e.path.endsWith("/layer.tar") && e.data ? { ...e, data: flip(e.data) } : e
      );
      await Deno.writeFile(`${dir}/badold.tar`, buildTar(bad));
      const r = await dtool([
        "copy",
        "-q",
        "--retry-times",
        "0",
        `docker-archive:${dir}/badold.tar`,
        `docker://${reg.host}/badold:1`,
      ]);
      assertOneLineFailure(r, /layer .*layer\.tar.*diff_id/);
      assert.equal(await exists(`${reg.host}/badold:1`), false);
    });
  });
});

function flip(b: Uint8Array): Uint8Array {
  const c = b.slice();
  c[600] ^= 0xff;
  return c;
}

Deno.test("byte for byte: docker → oci → oci-archive → docker-archive → docker keeps the digest", async () => {
  await withRegistry(async (reg, dir) => {
    for (
      const [name, fx] of [
        ["docker", await pushDockerImage(reg, "chain/docker:1", { layers: 2, layerSize: 8000 })],
        ["oci", await pushOciImage(reg, "chain/oci:1", { layers: 2, layerSize: 8000 })],
      ] as const
    ) {
      await dtoolOk(["copy", "-q", `docker://${fx.ref}`, `oci:${dir}/${name}-layout:1`]);
      await dtoolOk([
        "copy",
        "-q",
        `oci:${dir}/${name}-layout:1`,
        `oci-archive:${dir}/${name}.tar:1`,
      ]);
      await dtoolOk([
        "copy",
        "-q",
        `oci-archive:${dir}/${name}.tar:1`,
        `docker-archive:${dir}/${name}-d.tar:c/${name}:1`,
      ]);
      await dtoolOk([
        "copy",
        "-q",
        `docker-archive:${dir}/${name}-d.tar:c/${name}:1`,
        `docker://${reg.host}/back/${name}:1`,
      ]);
      assert.equal(await servedDigest(`${reg.host}/back/${name}:1`), fx.digest, name);
    }
    const idx = await pushOciIndex(reg, "chain/idx:1", undefined, { layerSize: 2000 });
    await dtoolOk(["copy", "-q", "--all", `docker://${idx.ref}`, `oci:${dir}/idx-layout:1`]);
    await dtoolOk([
      "copy",
      "-q",
      "--all",
      `oci:${dir}/idx-layout:1`,
      `oci-archive:${dir}/idx.tar:1`,
    ]);
    await dtoolOk([
      "copy",
      "-q",
      "--all",
      `oci-archive:${dir}/idx.tar:1`,
      `docker://${reg.host}/back/idx:1`,
    ]);
    assert.equal(await servedDigest(`${reg.host}/back/idx:1`), idx.digest);
    // An index cannot go into a docker-archive whole; one platform can.
    const r = await dtool([
      "copy",
      "-q",
      "--all",
      `docker://${idx.ref}`,
      `docker-archive:${dir}/idx-d.tar:i:1`,
    ]);
    assertOneLineFailure(r, /holds images, not an index/);
    await assert.rejects(() => Deno.stat(`${dir}/idx-d.tar`), Deno.errors.NotFound);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")),
      [],
      "no temporary file left",
    );
    await dtoolOk([
      "copy",
      "-q",
      "--platform",
      "linux/arm64/v8",
      `docker://${idx.ref}`,
      `docker-archive:${dir}/idx-d.tar:i:1`,
    ]);
    const info = JSON.parse((await dtoolOk(["inspect", `docker-archive:${dir}/idx-d.tar`])).stdout);
    assert.equal(info.Digest, idx.children![1].digest);
  });
});

Deno.test("bad archives fail in one line, push nothing and leave the destination as it was", async (t) => {
  await withRegistry(async (reg, dir) => {
    const img = await pushOciImage(reg, "src/img:1", { layers: 2, layerSize: 4000 });
    await dtoolOk(["copy", "-q", `docker://${img.ref}`, `oci-archive:${dir}/good.tar:1`]);
    const good = await Deno.readFile(`${dir}/good.tar`);
    const goodFiles = await untar(`${dir}/good.tar`);
    const entries: TarEntry[] = [...goodFiles].map(([path, data]) => ({ path, data }));
    const cases: [string, Uint8Array, RegExp][] = [
      [
        "a .. component",
        buildTar([...entries, { path: "blobs/../../x", data: enc.encode("x") }]),
        /contains "\.\."/,
      ],
      [
        "an absolute path",
        buildTar([...entries, { path: "/etc/x", data: enc.encode("x") }]),
        /absolute path/,
      ],
      [
        "an escaping symlink",
        buildTar([...entries, {
          path: "blobs/sha256/evil",
          type: "SymbolicLink",
          linkpath: "../../../etc/passwd",
        }]),
        /points outside the archive/,
      ],
      [
        "a device",
        buildTar([...entries, { path: "dev/zero", type: "CharacterDevice" }]),
        /device or FIFO/,
      ],
      [
        "a size past the end",
        buildTar([...entries, { path: "x", data: enc.encode("x"), size: 1 << 20 }], false),
        /runs past the end/,
      ],
      ["a truncated archive", good.subarray(0, good.length - 3000), /truncated|runs past the end/],
    ];
    const dest = `${dir}/dest.tar`;
    await Deno.writeTextFile(dest, "previous archive");
    for (const [what, bytes, pattern] of cases) {
      await t.step(what, async () => {
        await Deno.writeFile(`${dir}/bad.tar`, bytes);
        const r = await dtool([
          "copy",
          "-q",
          `oci-archive:${dir}/bad.tar:1`,
          `docker://${reg.host}/bad:1`,
        ]);
        assertOneLineFailure(r, pattern);
        assert.ok(r.stderr.includes(`${dir}/bad.tar`), "names the archive");
        assert.equal(await exists(`${reg.host}/bad:1`), false);
        const r2 = await dtool([
          "copy",
          "-q",
          `oci-archive:${dir}/bad.tar:1`,
          `docker-archive:${dest}:x:1`,
        ]);
        assertOneLineFailure(r2, pattern);
        assert.equal(await Deno.readTextFile(dest), "previous archive");
      });
    }
    await t.step("a corrupt blob: the copy names it, nothing is pushed on", async () => {
      const layer = img.layers![1].digest;
      const corrupt = entries.map((e) =>
        e.path === `blobs/sha256/${hex(layer)}` ? { ...e, data: flip(e.data!) } : e
      );
      await Deno.writeFile(`${dir}/corrupt.tar`, buildTar(corrupt));
      const r = await dtool([
        "copy",
        "-q",
        "--retry-times",
        "0",
        `oci-archive:${dir}/corrupt.tar:1`,
        `docker://${reg.host}/corrupt:1`,
      ]);
      assertOneLineFailure(r, new RegExp(`blob ${layer}`));
      assert.equal(await exists(`${reg.host}/corrupt:1`), false);
      const r2 = await dtool([
        "copy",
        "-q",
        "--retry-times",
        "0",
        `oci-archive:${dir}/corrupt.tar:1`,
        `docker-archive:${dest}:x:1`,
      ]);
      assertOneLineFailure(r2, new RegExp(`blob ${layer}`));
      assert.equal(await Deno.readTextFile(dest), "previous archive");
      assert.deepEqual(
        [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".tmp")),
        [],
        "no temporary file left",
      );
    });
  });
});
