/**
 * `dtool serve` judged by real clients: skopeo and `dtool copy` push every
 * kind of image in and pull it out with digests unchanged, with and without
 * htpasswd and TLS; a layout written by `dtool copy … oci:` is served as it
 * is; a server killed mid-push leaves no partial blob behind.
 */
import assert from "node:assert/strict";
import { dtoolOk, sha256 } from "../helpers/dtool.ts";
import {
  buildImage,
  buildIndex,
  pushBuilt,
  pushDockerImage,
  pushOciImage,
  sha256Digest,
  writeDirLayout,
} from "../helpers/images.ts";
import { startRegistry } from "../helpers/registry.ts";
import { spawnServe, startServe, type TestServe } from "../helpers/serve.ts";
import { skopeo, skopeoInspectRaw } from "../helpers/skopeo.ts";

function clientFlags(reg: TestServe, side: "src" | "dest" | ""): string[] {
  const p = side ? `--${side}-` : "--";
  const f = reg.certDir ? [`${p}cert-dir=${reg.certDir}`] : [`${p}tls-verify=false`];
  if (reg.auth) f.push(`${p}creds=${reg.auth.username}:${reg.auth.password}`);
  return f;
}

/** Pushes with skopeo, reads back with skopeo and pulls into a dir: bytes and digests equal. */
async function roundTrip(reg: TestServe, repoTag: string, built: Parameters<typeof pushBuilt>[2]) {
  const tmp = await Deno.makeTempDir();
  try {
    await writeDirLayout(`${tmp}/in`, built);
    await skopeo([
      "copy",
      "--quiet",
      "--all",
      "--preserve-digests",
      ...clientFlags(reg, "dest"),
      `dir:${tmp}/in`,
      `docker://${reg.host}/${repoTag}`,
    ]);
    const raw = await skopeoBytes(reg, `${reg.host}/${repoTag}`);
    assert.equal(sha256Digest(raw), built.digest, `${repoTag}: served digest`);
    await skopeo([
      "copy",
      "--quiet",
      "--all",
      "--preserve-digests",
      ...clientFlags(reg, "src"),
      `docker://${reg.host}/${repoTag}`,
      `dir:${tmp}/out`,
    ]);
    assert.equal(sha256Digest(await Deno.readFile(`${tmp}/out/manifest.json`)), built.digest);
    const images = "images" in built ? built.images : [built];
    for (const img of images) {
      for (const [digest, bytes] of img.blobs) {
        const got = await Deno.readFile(`${tmp}/out/${digest.slice(7)}`);
        assert.equal(sha256Digest(got), sha256Digest(bytes));
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

async function skopeoBytes(reg: TestServe, ref: string): Promise<Uint8Array> {
  const out = await new Deno.Command("skopeo", {
    args: ["inspect", "--raw", ...clientFlags(reg, ""), `docker://${ref}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return out.stdout;
}

for (
  const variant of [
    { name: "plain HTTP", opts: {} },
    {
      name: "htpasswd and TLS",
      opts: { htpasswd: { username: "ci", password: "s3cret" }, tls: true },
    },
  ]
) {
  Deno.test(`serve (${variant.name}): skopeo pushes and pulls every kind of image`, async (t) => {
    const reg = await startServe(variant.opts);
    try {
      await t.step("OCI image", () => roundTrip(reg, "k/oci:1", buildImage("oci")));
      await t.step("Docker schema 2", () => roundTrip(reg, "k/docker:1", buildImage("docker")));
      await t.step(
        "OCI index",
        () => roundTrip(reg, "k/index:1", buildIndex("oci", ["linux/amd64", "linux/arm64/v8"])),
      );
      await t.step(
        "manifest list",
        () => roundTrip(reg, "k/list:1", buildIndex("docker", ["linux/amd64", "linux/arm/v7"])),
      );
      await t.step(
        "many layers",
        () => roundTrip(reg, "k/many:1", buildImage("oci", { layers: 25, layerSize: 3000 })),
      );
      await t.step("dtool copy in and out", async () => {
        const built = buildIndex("oci", ["linux/amd64", "linux/arm64/v8"], { layerSize: 100_000 });
        const tmp = await Deno.makeTempDir();
        try {
          await writeDirLayout(tmp, built);
          // A skopeo-pushed source in the server, copied by dtool to another repository and out.
          await skopeo([
            "copy",
            "--quiet",
            "--all",
            "--preserve-digests",
            ...clientFlags(reg, "dest"),
            `dir:${tmp}`,
            `docker://${reg.host}/d/src:1`,
          ]);
          const flags = (side: "src" | "dest") =>
            reg.certDir
              ? [`--${side}-cert-dir`, reg.certDir, `--${side}-creds`, "ci:s3cret"]
              : [`--${side}-tls-verify=false`];
          await dtoolOk([
            "copy",
            "--all",
            "--quiet",
            ...flags("src"),
            ...flags("dest"),
            `docker://${reg.host}/d/src:1`,
            `docker://${reg.host}/d/dst:2`,
          ]);
          assert.equal(sha256Digest(await skopeoBytes(reg, `${reg.host}/d/dst:2`)), built.digest);
          await dtoolOk([
            "copy",
            "--all",
            "--quiet",
            ...flags("src"),
            `docker://${reg.host}/d/dst:2`,
            `oci:${tmp}/layout:out`,
          ]);
          const index = JSON.parse(await Deno.readTextFile(`${tmp}/layout/index.json`));
          assert.equal(index.manifests[0].digest, built.digest);
        } finally {
          await Deno.remove(tmp, { recursive: true });
        }
      });
      if (reg.auth) {
        await t.step("without credentials skopeo is refused", async () => {
          await assert.rejects(
            skopeo([
              "inspect",
              "--raw",
              `--cert-dir=${reg.certDir}`,
              `docker://${reg.host}/k/oci:1`,
            ]),
            /401|unauthorized|authentication required/i,
          );
        });
      }
    } finally {
      await reg.stop();
    }
  });
}

Deno.test("serve: a layout written by dtool copy is served as it is, and what was pushed can be carried away", async () => {
  const tmp = await Deno.makeTempDir();
  const reg = await startServe();
  try {
    // Fill a layout with dtool copy from the server itself, then serve that layout.
    const fx = await pushBuilt(
      reg,
      "src/app:1",
      buildIndex("oci", ["linux/amd64", "linux/arm64"]),
    );
    await dtoolOk([
      "copy",
      "--all",
      "--quiet",
      "--src-tls-verify=false",
      `docker://${fx.ref}`,
      `oci:${tmp}/layout:team/app:1.0`,
    ]);
    const second = await startServe({ storage: `${tmp}/layout` });
    try {
      const raw = await skopeoInspectRaw(`${second.host}/team/app:1.0`);
      assert.equal(sha256Digest(raw), fx.digest);
      await skopeo([
        "copy",
        "--quiet",
        "--all",
        "--src-tls-verify=false",
        `docker://${second.host}/team/app:1.0`,
        `oci:${tmp}/pulled:x`,
      ]);
      const pulled = JSON.parse(await Deno.readTextFile(`${tmp}/pulled/index.json`));
      assert.equal(pulled.manifests[0].digest, fx.digest);
      // What the server holds is carried away with copy oci:DIR:<repo>:<tag>.
      await dtoolOk([
        "copy",
        "--all",
        "--quiet",
        `oci:${reg.storage}:src/app:1`,
        `oci:${tmp}/away:1`,
      ]);
      const away = JSON.parse(await Deno.readTextFile(`${tmp}/away/index.json`));
      assert.equal(away.manifests[0].digest, fx.digest);
    } finally {
      await second.stop();
    }
  } finally {
    await reg.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("serve: killed during a large push, restarted on the same storage: no partial blob, the push repeats", async () => {
  const tmp = await Deno.makeTempDir();
  const storage = `${tmp}/storage`;
  try {
    const built = buildImage("oci", { layers: 1, layerSize: 48 * 1024 * 1024 });
    await writeDirLayout(`${tmp}/img`, built);
    const layer = built.layers[0].digest;
    let server = await spawnServe(storage);
    const push = skopeo([
      "copy",
      "--quiet",
      "--dest-tls-verify=false",
      `dir:${tmp}/img`,
      `docker://${server.host}/crash/app:1`,
    ]).then(() => "pushed", (e) => String(e));
    // Kill once the layer's upload has started.
    const deadline = Date.now() + 60_000;
    while (!/POST \/v2\/crash\/app\/blobs\/uploads\//.test(server.stderr())) {
      if (Date.now() > deadline) throw new Error(`no upload started:\n${server.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 150));
    await server.kill("SIGKILL");
    assert.notEqual(await push, "pushed", "the push cannot have finished");
    await assert.rejects(Deno.stat(`${storage}/blobs/sha256/${layer.slice(7)}`));

    server = await spawnServe(storage);
    try {
      const head = await fetch(`http://${server.host}/v2/crash/app/blobs/${layer}`, {
        method: "HEAD",
      });
      assert.equal(head.status, 404, "no partial blob is visible");
      await skopeo([
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        `dir:${tmp}/img`,
        `docker://${server.host}/crash/app:1`,
      ]);
      const raw = await skopeoInspectRaw(`${server.host}/crash/app:1`);
      assert.equal(sha256Digest(raw), built.digest);
      const blob = await Deno.stat(`${storage}/blobs/sha256/${layer.slice(7)}`);
      assert.equal(blob.size, built.layers[0].size);
    } finally {
      await server.kill("SIGTERM");
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("serve: a layout filled by sync --dest oci is served and pulled by skopeo", async () => {
  const upstream = await startRegistry();
  const tmp = await Deno.makeTempDir({ prefix: "dtool-serve-sync-" });
  try {
    const a = await pushOciImage(upstream, "team/a:1");
    const b = await pushDockerImage(upstream, "team/b:2");
    const layout = `${tmp}/mirror`;
    await dtoolOk([
      "sync",
      "--src",
      "docker",
      "--dest",
      "oci",
      "-q",
      `${upstream.host}/team/a`,
      layout,
    ]);
    await dtoolOk([
      "sync",
      "--src",
      "docker",
      "--dest",
      "oci",
      "-q",
      `${upstream.host}/team/b`,
      layout,
    ]);
    const served = await startServe({ storage: layout });
    try {
      for (const [ref, fx] of [["a:1", a], ["b:2", b]] as const) {
        const raw = await skopeoInspectRaw(`${served.host}/${ref}`);
        assert.deepEqual(raw, fx.raw);
        await skopeo([
          "copy",
          "--src-tls-verify=false",
          "--dest-tls-verify=false",
          `docker://${served.host}/${ref}`,
          `docker://${upstream.host}/pulled/${ref}`,
        ]);
        assert.equal(
          await sha256(await skopeoInspectRaw(`${upstream.host}/pulled/${ref}`)),
          fx.digest,
        );
      }
    } finally {
      await served.stop();
    }
  } finally {
    await upstream.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
