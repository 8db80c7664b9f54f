/**
 * `dtool copy` end to end between two real registries (Debian's
 * docker-registry), with skopeo as the outside judge of what arrived.
 */
import assert from "node:assert/strict";
import { copyImage, DockerResolver, type ProgressEvent } from "../../mod.ts";
import { dtoolOk, jsonEvents, sha256 } from "../helpers/dtool.ts";
import {
  pushDockerImage,
  pushDockerManifestList,
  pushOciImage,
  pushOciIndex,
} from "../helpers/images.ts";
import { startRegistry, type TestRegistry } from "../helpers/registry.ts";
import { skopeo, skopeoInspectRaw } from "../helpers/skopeo.ts";

function hostArchitecture(): string {
  return Deno.build.arch === "aarch64" ? "linux/arm64/v8" : "linux/amd64";
}

async function withRegistries(
  fn: (src: TestRegistry, dst: TestRegistry, t: Deno.TestContext) => Promise<void>,
  t: Deno.TestContext,
) {
  const src = await startRegistry();
  const dst = await startRegistry();
  try {
    await fn(src, dst, t);
  } finally {
    await src.stop();
    await dst.stop();
  }
}

async function tagExists(ref: string): Promise<boolean> {
  try {
    await skopeoInspectRaw(ref);
    return true;
  } catch {
    return false;
  }
}

Deno.test("copy between registries keeps every manifest byte for byte", async (t) => {
  await withRegistries(async (src, dst) => {
    await t.step(
      "an OCI image arrives with the source digest and the digestfile names it",
      async () => {
        const fx = await pushOciImage(src, "oci/app:1", { layers: 3, layerSize: 200_000 });
        const dir = await Deno.makeTempDir();
        try {
          const r = await dtoolOk([
            "copy",
            "--digestfile",
            `${dir}/digest`,
            `docker://${fx.ref}`,
            `docker://${dst.host}/copied/oci:1`,
          ]);
          assert.equal(r.stdout, "", "copy prints nothing on stdout");
          const raw = await skopeoInspectRaw(`${dst.host}/copied/oci:1`);
          assert.deepEqual(raw, fx.raw);
          assert.equal(await Deno.readTextFile(`${dir}/digest`), fx.digest);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );

    await t.step("a Docker schema 2 image arrives unchanged", async () => {
      const fx = await pushDockerImage(src, "docker/app:1", { layers: 2 });
      await dtoolOk(["copy", "-q", `docker://${fx.ref}`, `docker://${dst.host}/copied/docker:1`]);
      const raw = await skopeoInspectRaw(`${dst.host}/copied/docker:1`);
      assert.equal(await sha256(raw), fx.digest);
      assert.equal(JSON.parse(new TextDecoder().decode(raw)).mediaType, fx.mediaType);
    });

    const index = await pushOciIndex(src, "multi/app:1");
    const child = (p: string) => index.children!.find((c) => c.platform === p)!.digest;

    await t.step("an index without flags copies the host platform's image alone", async () => {
      await dtoolOk(["copy", "-q", `docker://${index.ref}`, `docker://${dst.host}/host/app:1`]);
      const raw = await skopeoInspectRaw(`${dst.host}/host/app:1`);
      assert.equal(await sha256(raw), child(hostArchitecture()));
    });

    await t.step("--platform once copies that platform's image alone", async () => {
      await dtoolOk([
        "copy",
        "-q",
        "--platform",
        "linux/arm64",
        `docker://${index.ref}`,
        `docker://${dst.host}/one/app:1`,
      ]);
      const raw = await skopeoInspectRaw(`${dst.host}/one/app:1`);
      assert.equal(await sha256(raw), child("linux/arm64/v8"));
    });

    await t.step("--platform twice writes a new index of just those images", async () => {
      const r = await dtoolOk([
        "copy",
        "--progress=plain",
        "--platform",
        "linux/arm/v7",
        "--platform",
        "linux/amd64",
        `docker://${index.ref}`,
        `docker://${dst.host}/two/app:1`,
      ]);
      assert.match(r.stderr, /destination index is new/);
      const raw = await skopeoInspectRaw(`${dst.host}/two/app:1`);
      const doc = JSON.parse(new TextDecoder().decode(raw));
      assert.notEqual(await sha256(raw), index.digest);
      assert.deepEqual(
        doc.manifests.map((m: { digest: string }) => m.digest),
        [child("linux/arm/v7"), child("linux/amd64")],
      );
      for (const d of doc.manifests) {
        const childRaw = await skopeoInspectRaw(`${dst.host}/two/app@${d.digest}`);
        assert.equal(await sha256(childRaw), d.digest);
      }
    });

    await t.step("--all copies every image and the index unchanged", async () => {
      await dtoolOk([
        "copy",
        "-q",
        "--all",
        `docker://${index.ref}`,
        `docker://${dst.host}/all/app:1`,
      ]);
      assert.deepEqual(await skopeoInspectRaw(`${dst.host}/all/app:1`), index.raw);
      for (const c of index.children!) {
        const raw = await skopeoInspectRaw(`${dst.host}/all/app@${c.digest}`);
        assert.equal(await sha256(raw), c.digest);
      }
      // skopeo can copy the whole thing back out, so every blob is there.
      await skopeo([
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        `docker://${dst.host}/all/app:1`,
        `docker://${src.host}/roundtrip/app:1`,
      ]);
    });

    await t.step("a Docker manifest list with --all keeps its media type and digest", async () => {
      const list = await pushDockerManifestList(src, "list/app:1");
      await dtoolOk([
        "copy",
        "-q",
        "--all",
        `docker://${list.ref}`,
        `docker://${dst.host}/list/app:1`,
      ]);
      const raw = await skopeoInspectRaw(`${dst.host}/list/app:1`);
      assert.deepEqual(raw, list.raw);
      assert.equal(
        JSON.parse(new TextDecoder().decode(raw)).mediaType,
        "application/vnd.docker.distribution.manifest.list.v2+json",
      );
    });

    await t.step(
      "blobs the destination has are skipped, and a current tag stops after one HEAD",
      async () => {
        const fx = await pushOciImage(src, "skip/app:1", { layers: 2 });
        await dtoolOk(["copy", "-q", `docker://${fx.ref}`, `docker://${dst.host}/skip/app:1`]);
        const other = await dtoolOk([
          "copy",
          "--progress=json",
          `docker://${fx.ref}`,
          `docker://${dst.host}/skip/app:2`,
        ]);
        const skips = jsonEvents(other.stderr).filter((e) => e.type === "blob-skip");
        assert.equal(skips.length, 3, "config and two layers already there");
        assert.ok(skips.every((e) => e.reason === "exists"));
        const again = await dtoolOk([
          "copy",
          "--progress=json",
          "--debug",
          `docker://${fx.ref}`,
          `docker://${dst.host}/skip/app:2`,
        ]);
        const events = jsonEvents(again.stderr);
        assert.ok(events.some((e) => e.type === "manifest" && e.skipped === true));
        assert.ok(!events.some((e) => e.type === "blob-start"));
        const destHeads = again.stderr.split("\n").filter((l) =>
          l.includes(`${dst.host}/v2/skip/app/`)
        );
        assert.equal(
          destHeads.length,
          1,
          `one request to the destination:\n${destHeads.join("\n")}`,
        );
      },
    );

    await t.step("progress: lines off a terminal, bars on one, silence with --quiet", async () => {
      const fx = await pushOciImage(src, "progress/app:1", { layers: 2 });
      const plain = await dtoolOk([
        "copy",
        "--progress=plain",
        `docker://${fx.ref}`,
        `docker://${dst.host}/progress/plain:1`,
      ]);
      const lines = plain.stderr.trim().split("\n");
      for (const l of fx.layers!) {
        const short = l.digest.slice(7, 19);
        assert.ok(lines.includes(`Copied blob ${short}`), plain.stderr);
        assert.ok(lines.some((x) => x.startsWith(`Copying blob ${short} (`)), plain.stderr);
      }
      assert.match(lines.at(-2)!, /^Wrote manifest [0-9a-f]{12} as 1$/);
      assert.match(lines.at(-1)!, /^Done: 3\/3 blobs, /);
      const bars = await dtoolOk([
        "copy",
        "--progress=tty",
        `docker://${fx.ref}`,
        `docker://${dst.host}/progress/tty:1`,
      ]);
      assert.ok(bars.stderr.includes("\x1b[2KTotal 3/3 blobs"), "bars redraw a total line");
      const quiet = await dtoolOk([
        "copy",
        "-q",
        `docker://${fx.ref}`,
        `docker://${dst.host}/progress/q:1`,
      ]);
      assert.equal(quiet.stderr, "");
      assert.equal(quiet.stdout, "");
    });

    await t.step("dtool reads back what skopeo pushed", async () => {
      const fx = await pushDockerImage(src, "peer/app:1");
      await skopeo([
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        `docker://${fx.ref}`,
        `docker://${dst.host}/peer/app:1`,
      ]);
      const r = await dtoolOk(["inspect", "--raw", `docker://${dst.host}/peer/app:1`]);
      const expected = await skopeoInspectRaw(`${dst.host}/peer/app:1`);
      assert.deepEqual(r.stdoutBytes, expected);
    });

    await t.step("a copy inside one registry mounts blobs instead of moving them", async () => {
      const fx = await pushOciImage(src, "mount/a:1", { layers: 2 });
      const r = await dtoolOk([
        "copy",
        "--progress=json",
        "--debug",
        `docker://${fx.ref}`,
        `docker://${src.host}/mount/b:1`,
      ]);
      const events = jsonEvents(r.stderr);
      const mounted = events.filter((e) => e.type === "blob-skip" && e.reason === "mounted");
      assert.equal(mounted.length, 3);
      // Both ends share one client: the host is found out once, by its first request.
      const discoveries = r.stderr.split("\n").filter((l) =>
        l.includes(src.host) &&
        (l.includes("first request to this host") || l.includes(`/v2/ 200`))
      );
      assert.equal(discoveries.length, 1, `one discovery for both ends:\n${r.stderr}`);
      assert.deepEqual(await skopeoInspectRaw(`${src.host}/mount/b:1`), fx.raw);
    });

    await t.step("the library copies with copyImage and reports progress", async () => {
      const fx = await pushOciImage(src, "lib/app:1", { layers: 2 });
      const events: ProgressEvent[] = [];
      const result = await copyImage(
        { resolver: new DockerResolver(), ref: fx.ref },
        { resolver: new DockerResolver(), ref: `${dst.host}/lib/app:7`, tag: "7" },
        { onProgress: (e) => events.push(e) },
      );
      assert.equal(result.digest, fx.digest);
      assert.equal(result.transferred, 3);
      assert.ok(events.some((e) => e.type === "blob-done"));
      assert.deepEqual(await skopeoInspectRaw(`${dst.host}/lib/app:7`), fx.raw);
    });
  }, t);
});

Deno.test("an aborted library copy never writes the tag", async (t) => {
  const src = await startRegistry();
  const dst = await startRegistry();
  try {
    const fx = await pushOciImage(src, "abort/app:1", { layers: 4, layerSize: 1024 * 1024 });
    const copy = (tag: string, signal: AbortSignal, onProgress?: (e: ProgressEvent) => void) =>
      copyImage(
        { resolver: new DockerResolver(), ref: fx.ref },
        { resolver: new DockerResolver(), ref: `${dst.host}/abort/app:${tag}`, tag },
        { signal, onProgress, jobs: 1 },
      );
    await t.step("aborted before it starts", async () => {
      const c = new AbortController();
      c.abort(new Error("stopped by the user"));
      await assert.rejects(copy("a", c.signal), /stopped by the user/);
      await assert.rejects(skopeoInspectRaw(`${dst.host}/abort/app:a`));
    });
    await t.step("aborted after the first blob arrived", async () => {
      const c = new AbortController();
      await assert.rejects(
        copy("b", c.signal, (e) => {
          if (e.type === "blob-done") c.abort(new Error("stopped midway"));
        }),
        /stopped midway/,
      );
      await assert.rejects(skopeoInspectRaw(`${dst.host}/abort/app:b`));
    });
  } finally {
    await src.stop();
    await dst.stop();
  }
});

Deno.test("a copy that fails halfway leaves the destination tag where it was", async () => {
  const src = await startRegistry();
  const dst = await startRegistry();
  try {
    const old = await pushOciImage(dst, "victim/app:1", { layers: 1 });
    const fx = await pushOciImage(src, "big/app:1", { layers: 6, layerSize: 4 * 1024 * 1024 });
    const { spawnDtool } = await import("../helpers/dtool.ts");
    const child = spawnDtool([
      "copy",
      "--progress=json",
      "--jobs",
      "1",
      "--retry-times",
      "0",
      `docker://${fx.ref}`,
      `docker://${dst.host}/victim/app:1`,
    ]);
    const stdout = child.stdout.pipeTo(new WritableStream());
    let stderr = "";
    let killed = false;
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += chunk;
      if (!killed && stderr.includes('"type":"blob-done"')) {
        killed = true;
        await src.stop(); // the source disappears mid-copy
      }
    }
    const status = await child.status;
    await stdout;
    assert.ok(killed, "the source was stopped during the copy");
    assert.notEqual(status.code, 0);
    const lastLine = stderr.trim().split("\n").at(-1)!;
    assert.match(lastLine, /^dtool: copy docker:\/\/.*big\/app:1: /);
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/victim/app:1`), old.raw);
    assert.equal(await tagExists(`${dst.host}/victim/app@${fx.digest}`), false);
  } finally {
    await src.stop();
    await dst.stop();
  }
});
