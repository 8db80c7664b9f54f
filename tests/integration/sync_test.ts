/**
 * `dtool sync` end to end between real registries (Debian's docker-registry),
 * with skopeo sync and skopeo inspect as the outside judges.
 */
import assert from "node:assert/strict";
import { dtool, jsonEvents, spawnDtool } from "../helpers/dtool.ts";
import { blobGet, manifestRequest, startFaultProxy } from "../helpers/fault_proxy.ts";
import {
  buildImage,
  pushBuilt,
  pushDockerImage,
  pushDockerManifestList,
  pushOciImage,
} from "../helpers/images.ts";
import { registryFetch, startRegistry, type TestRegistry } from "../helpers/registry.ts";
import { skopeo, skopeoInspectRaw } from "../helpers/skopeo.ts";
import { addTags } from "../helpers/tags.ts";
import { sha256Digest } from "../helpers/images.ts";

/** Every repository (below `prefix/`) → tag → manifest digest, read through the catalog and skopeo. */
async function contents(reg: TestRegistry, prefix = ""): Promise<Record<string, string>> {
  const catalog = (await registryFetch(reg, "/v2/_catalog?n=1000")).json<
    { repositories: string[] }
  >();
  const out: Record<string, string> = {};
  for (const repo of catalog.repositories.filter((r) => r.startsWith(prefix))) {
    const tags = JSON.parse(
      await skopeo(["list-tags", "--tls-verify=false", `docker://${reg.host}/${repo}`]),
    ).Tags as string[];
    for (const tag of tags) {
      const raw = await skopeoInspectRaw(`${reg.host}/${repo}:${tag}`);
      out[`${repo.slice(prefix.length)}:${tag}`] = sha256Digest(raw);
    }
  }
  return out;
}

async function withRegistries(
  fn: (src: TestRegistry, dst: TestRegistry, dir: string) => Promise<void>,
) {
  const src = await startRegistry();
  const dst = await startRegistry();
  const dir = await Deno.makeTempDir({ prefix: "dtool-sync-" });
  try {
    await fn(src, dst, dir);
  } finally {
    await src.stop();
    await dst.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Statuses of image-done events by source. */
function statuses(stderr: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of jsonEvents(stderr)) {
    if (e.type === "image-done") out[e.source as string] = e.status as string;
  }
  return out;
}

Deno.test("sync: the same YAML through skopeo sync and dtool sync ends the same", async () => {
  await withRegistries(async (src, dst, dir) => {
    await pushOciImage(src, "team/app:1");
    await pushOciImage(src, "team/app:2");
    await pushDockerManifestList(src, "lib/multi:1");
    await pushDockerImage(src, "docker/img:1");
    const rx = await pushOciImage(src, "rx:1.0");
    await addTags(src, "rx", ["1.1", "2.0", "10.1"], rx);
    const yaml = `${dir}/sync.yaml`;
    await Deno.writeTextFile(
      yaml,
      `${src.host}:\n  tls-verify: false\n  images:\n    team/app: []\n    lib/multi: ["1"]\n` +
        `    docker/img: ["1"]\n  images-by-tag-regex:\n    rx: ^1\\.\n`,
    );
    await skopeo([
      "sync",
      "--all",
      "--preserve-digests",
      "--src",
      "yaml",
      "--dest",
      "docker",
      "--dest-tls-verify=false",
      yaml,
      `${dst.host}/skopeo`,
    ]);
    const first = await dtool([
      "sync",
      "--all",
      "--src",
      "yaml",
      "--dest",
      "docker",
      "--progress=json",
      yaml,
      `${dst.host}/dtool`,
    ]);
    assert.equal(first.code, 0, first.stderr);
    const bySkopeo = await contents(dst, "skopeo/");
    const byDtool = await contents(dst, "dtool/");
    assert.deepEqual(Object.keys(bySkopeo).sort(), [
      "app:1",
      "app:2",
      "img:1",
      "multi:1",
      "rx:1.0",
      "rx:1.1",
    ]);
    assert.deepEqual(byDtool, bySkopeo);
    assert.deepEqual(new Set(Object.values(statuses(first.stderr))), new Set(["copied"]));

    // Nothing changed: every image is current, and costs one request on each side.
    const again = await dtool([
      "sync",
      "--all",
      "--src",
      "yaml",
      "--dest",
      "docker",
      "--progress=json",
      "--debug",
      yaml,
      `${dst.host}/dtool`,
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(new Set(Object.values(statuses(again.stderr))), new Set(["skipped"]));
    const heads = again.stderr.split("\n").filter((l) => / HEAD .*\/manifests\//.test(l));
    assert.equal(heads.length, 12, "one HEAD per image on each side");
    assert.ok(!/ (PUT|POST|PATCH) /.test(again.stderr), "a re-sync writes nothing");
  });
});

Deno.test("sync: a whole registry, --scoped and --append-suffix; a whole repository", async () => {
  await withRegistries(async (src, dst) => {
    const a = await pushOciImage(src, "x/a:1");
    const b = await pushDockerImage(src, "b:2");
    const whole = await dtool([
      "sync",
      "--src",
      "docker",
      "--dest",
      "docker",
      "--scoped",
      "--append-suffix",
      "-m",
      "--quiet",
      src.host,
      `${dst.host}/all`,
    ]);
    assert.equal(whole.code, 0, whole.stderr);
    const scope = src.host.replace(":", "_");
    assert.deepEqual(await contents(dst, "all/"), {
      [`${scope}/x/a:1-m`]: a.digest,
      [`${scope}/b:2-m`]: b.digest,
    });
    await addTags(src, "x/a", ["2", "3"], a);
    const repo = await dtool([
      "sync",
      "--src",
      "docker",
      "--dest",
      "docker",
      `${src.host}/x/a`,
      `${dst.host}/repo`,
    ]);
    assert.equal(repo.code, 0, repo.stderr);
    assert.deepEqual(await contents(dst, "repo/"), {
      "a:1": a.digest,
      "a:2": a.digest,
      "a:3": a.digest,
    });
    assert.match(repo.stderr, /Synced: 3 images: 3 copied, 0 skipped \(current\), 0 failed/);
  });
});

Deno.test("sync: semver ranges, bad YAML before anything moves, missing repositories", async () => {
  await withRegistries(async (src, dst, dir) => {
    const fx = await pushOciImage(src, "v/app:1.0.0");
    await addTags(src, "v/app", ["1.2.0", "v1.3.1", "2.0.0", "latest", "1.4.0-rc.1"], fx);
    const yaml = `${dir}/s.yaml`;
    const run = (text: string, ...extra: string[]) =>
      Deno.writeTextFile(yaml, text).then(() =>
        dtool(["sync", "--src", "yaml", "--dest", "docker", ...extra, yaml, `${dst.host}/m`])
      );
    const bad = await run(`${src.host}:\n  images-by-semver:\n    v/app: ">=1.1 <2"\n  tags: []\n`);
    assert.equal(bad.code, 2);
    assert.equal(
      bad.stderr.trim(),
      `dtool: sync ${yaml}: ${yaml}: registry ${src.host}: tags: unknown key (known: images, images-by-tag-regex, images-by-semver, credentials, tls-verify, cert-dir)`,
    );
    const badRe = await run(`${src.host}:\n  images-by-tag-regex:\n    v/app: "[1-"\n`);
    assert.equal(badRe.code, 2);
    assert.match(badRe.stderr, /registry 127\.0\.0\.1:\d+: images-by-tag-regex: v\/app: bad regex/);
    assert.deepEqual(await contents(dst), {}, "nothing was copied");

    const semver = await run(`${src.host}:\n  images-by-semver:\n    v/app: ">=1.1 <2"\n`);
    assert.equal(semver.code, 0, semver.stderr);
    assert.deepEqual(await contents(dst, "m/"), {
      "app:1.2.0": fx.digest,
      "app:v1.3.1": fx.digest,
    });

    // A missing repository — listed with [] or with tags — is one failure line each.
    const missing =
      `${src.host}:\n  images:\n    gone: []\n    also-gone: ["1"]\n    v/app: ["2.0.0"]\n`;
    const stop = await run(missing);
    assert.equal(stop.code, 1);
    assert.match(
      stop.stderr,
      new RegExp(`${src.host}/gone \\(registry ${src.host}\\): repository .* not found`),
    );
    const going = await run(missing, "--keep-going");
    assert.equal(going.code, 1, going.stderr);
    assert.match(going.stderr, /failed: 127\.0\.0\.1:\d+\/also-gone:1 -> .*manifest unknown/);
    assert.match(going.stderr, /Synced: 3 images: 1 copied, 0 skipped \(current\), 2 failed/);
    assert.equal((await contents(dst, "m/"))["app:2.0.0"], fx.digest);
  });
});

Deno.test("sync: bad credentials for one registry fail that registry only", async () => {
  const locked = await startRegistry({ htpasswd: { username: "u", password: "right" } });
  await withRegistries(async (src, dst, dir) => {
    try {
      const open = await pushOciImage(src, "open:1");
      await pushOciImage(locked, "closed:1");
      const yaml = `${dir}/s.yaml`;
      await Deno.writeTextFile(
        yaml,
        `${src.host}:\n  images:\n    open: []\n${locked.host}:\n  credentials:\n    username: u\n    password: wrong-secret\n  images:\n    closed: []\n`,
      );
      const r = await dtool([
        "sync",
        "--keep-going",
        "--src",
        "yaml",
        "--dest",
        "docker",
        yaml,
        dst.host,
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`${locked.host}/closed \\(registry ${locked.host}\\): .*denied`),
      );
      assert.ok(!r.stderr.includes("wrong-secret"), "no secret in output");
      assert.deepEqual(await contents(dst), { "open:1": open.digest });
    } finally {
      await locked.stop();
    }
  });
});

Deno.test("sync: --dest oci updates one layout, blobs stored once; --src oci reads it back", async () => {
  await withRegistries(async (src, dst, dir) => {
    const a = await pushOciImage(src, "team/a:1");
    await addTags(src, "team/a", ["2"], a);
    const m = await pushDockerManifestList(src, "m:1");
    const layout = `${dir}/layout`;
    const sync = (...extra: string[]) =>
      dtool(["sync", "--all", "--src", "docker", "--dest", "oci", ...extra, src.host, layout]);
    const first = await sync();
    assert.equal(first.code, 0, first.stderr);
    await addTags(src, "team/a", ["3"], a);
    const b = await pushDockerImage(src, "team/b:1");
    const second = await sync("--progress=json");
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(statuses(second.stderr), {
      [`${src.host}/team/a:1`]: "skipped",
      [`${src.host}/team/a:2`]: "skipped",
      [`${src.host}/team/a:3`]: "copied",
      [`${src.host}/team/b:1`]: "copied",
      [`${src.host}/m:1`]: "skipped",
    });
    const expected = {
      "a:1": a.digest,
      "a:2": a.digest,
      "a:3": a.digest,
      "b:1": b.digest,
      "m:1": m.digest,
    };
    // skopeo 1.9 reads only OCI media types from a layout: the Docker ones are checked by hand.
    const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`)) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    const refs = Object.fromEntries(
      index.manifests.map((m) => [m.annotations?.["org.opencontainers.image.ref.name"], m.digest]),
    );
    assert.deepEqual(refs, expected);
    for (const digest of Object.values(expected)) {
      assert.equal(
        sha256Digest(await Deno.readFile(`${layout}/blobs/sha256/${digest.slice(7)}`)),
        digest,
      );
    }
    const raw = new TextEncoder().encode(await skopeo(["inspect", "--raw", `oci:${layout}:a:3`]));
    assert.equal(sha256Digest(raw), a.digest);
    // Blobs once: the files under blobs/ are exactly the distinct blobs and manifests named.
    const files: string[] = [];
    for await (const e of Deno.readDir(`${layout}/blobs/sha256`)) files.push(e.name);
    const named = new Set(
      [a, b].flatMap((f) => [f.digest, f.config!.digest, ...f.layers!.map((l) => l.digest)]),
    );
    for (const img of m.images!) {
      for (const d of [img.digest, img.config.digest, ...img.layers.map((l) => l.digest)]) {
        named.add(d);
      }
    }
    named.add(m.digest);
    assert.deepEqual(files.sort(), [...named].map((d) => d.slice(7)).sort());

    const back = await dtool([
      "sync",
      "--all",
      "--src",
      "oci",
      "--dest",
      "docker",
      layout,
      `${dst.host}/back`,
    ]);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(await contents(dst, "back/"), expected);
  });
});

/** The dir: transport is written on main in parallel; this branch may not have it yet. */
Deno.test({
  name: "sync: --dest dir writes one folder per image",
}, async () => {
  await withRegistries(async (src, _dst, dir) => {
    const a = await pushOciImage(src, "x/a:1");
    const r = await dtool([
      "sync",
      "--src",
      "docker",
      "--dest",
      "dir",
      `${src.host}/x/a`,
      `${dir}/out`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const raw = await Deno.readFile(`${dir}/out/a:1/manifest.json`);
    assert.equal(sha256Digest(raw), a.digest);
    const again = await dtool([
      "sync",
      "--src",
      "docker",
      "--dest",
      "dir",
      `${src.host}/x/a`,
      `${dir}/out`,
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /0 copied, 1 skipped \(current\)/);
    assert.deepEqual(await Deno.readFile(`${dir}/out/a:1/manifest.json`), raw);
  });
});

/** Reads a child's stderr until `done` says so; returns what was read. */
async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  done: (text: string) => boolean,
): Promise<string> {
  let text = "";
  while (!done(text)) {
    const { value, done: end } = await reader.read();
    if (end) break;
    text += value;
  }
  return text;
}

Deno.test("sync: killed mid-way and run again completes, with no tag on a partial image", async () => {
  await withRegistries(async (src, dst) => {
    const small = await pushOciImage(src, "small:1");
    const big = await pushBuilt(src, "big:1", buildImage("oci", { layers: 2, layerSize: 300_000 }));
    const proxy = await startFaultProxy(src.url, {
      // The big image's second layer stalls after its first bytes: the sync is killed then.
      rules: [{
        match: blobGet(big.layers![1].digest),
        fault: { kind: "stall", ms: 60_000, bytes: 1000 },
      }],
    });
    try {
      const args = [
        "sync",
        "--src",
        "docker",
        "--dest",
        "docker",
        "--progress=json",
        proxy.host,
        dst.host,
      ];
      const child = spawnDtool(args);
      const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      const seen = await readUntil(reader, (t) => t.includes('"type":"image-done"'));
      assert.match(seen, /small:1".*"status":"copied"/);
      // Wait until the stalled layer is being read, then kill.
      while (!proxy.log.some((e) => e.path.endsWith(big.layers![1].digest))) {
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill("SIGKILL");
      await reader.cancel();
      await child.status;
      await child.stdout.cancel();
      const head = await registryFetch(dst, "/v2/big/manifests/1", { method: "HEAD" });
      assert.equal(head.status, 404, "no tag on the partial image");
      proxy.setSchedule({});
      const again = await dtool([...args.slice(0, -2), proxy.host, dst.host]);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(statuses(again.stderr), {
        [`${proxy.host}/small:1`]: "skipped",
        [`${proxy.host}/big:1`]: "copied",
      });
      assert.deepEqual(await contents(dst), { "small:1": small.digest, "big:1": big.digest });
    } finally {
      await proxy.stop();
    }
  });
});

Deno.test("sync: faults at the source fail one image, the rest arrive", async () => {
  await withRegistries(async (src, dst) => {
    const ok = await pushOciImage(src, "ok:1");
    const flaky = await pushDockerImage(src, "flaky:1");
    await pushOciImage(src, "bad:1");
    const proxy = await startFaultProxy(src.url, {
      rules: [
        {
          match: (req) => manifestRequest()(req) && new URL(req.url).pathname.includes("/bad/"),
          fault: { kind: "status", status: 500 },
        },
        { match: blobGet(flaky.layers![0].digest), times: 1, fault: { kind: "corrupt" } },
      ],
    });
    try {
      const r = await dtool([
        "sync",
        "--keep-going",
        "--retry-times=1",
        "--retry-delay=10ms",
        "--src",
        "docker",
        "--dest",
        "docker",
        "--progress=json",
        proxy.host,
        dst.host,
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.deepEqual(statuses(r.stderr), {
        [`${proxy.host}/ok:1`]: "copied",
        [`${proxy.host}/flaky:1`]: "copied",
        [`${proxy.host}/bad:1`]: "failed",
      });
      assert.match(
        r.stderr,
        new RegExp(`failed: ${proxy.host}/bad:1 -> ${dst.host}/bad:1: .*HTTP 500`),
      );
      assert.deepEqual(await contents(dst), { "ok:1": ok.digest, "flaky:1": flaky.digest });
    } finally {
      await proxy.stop();
    }
  });
});

Deno.test("sync: 3 shards side by side equal one whole sync, no image copied twice", async () => {
  await withRegistries(async (src, dst) => {
    for (const repo of ["r1", "r2", "r3"]) {
      const fx = await pushOciImage(src, `${repo}:1`);
      await addTags(src, repo, ["2", "3"], fx);
    }
    const sync = (prefix: string, extra: string[], env?: Record<string, string>) =>
      dtool([
        "sync",
        "--src",
        "docker",
        "--dest",
        "docker",
        "--progress=json",
        ...extra,
        src.host,
        `${dst.host}/${prefix}`,
      ], { env });
    const [whole, ...shards] = await Promise.all([
      sync("whole", []),
      sync("sharded", ["--shard", "0/3"]),
      sync("sharded", ["--shard", "1/3"]),
      sync("sharded", ["--shard", "auto/3"], { JOB_COMPLETION_INDEX: "2" }),
    ]);
    assert.equal(whole.code, 0, whole.stderr);
    const copied: string[] = [];
    for (const s of shards) {
      assert.equal(s.code, 0, s.stderr);
      for (const [source, status] of Object.entries(statuses(s.stderr))) {
        assert.equal(status, "copied");
        copied.push(source);
      }
    }
    assert.equal(copied.length, 9, "each image copied by one shard only");
    assert.deepEqual(new Set(copied), new Set(Object.keys(statuses(whole.stderr))));
    assert.ok(shards.every((s) => Object.keys(statuses(s.stderr)).length < 9), "work was split");
    assert.deepEqual(await contents(dst, "sharded/"), await contents(dst, "whole/"));
  });
});
