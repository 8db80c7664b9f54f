/**
 * Self-tests for the integration harness in tests/helpers/ (registry, skopeo, fixtures, paging
 * proxy, tags, TLS). Run: `deno test -A tests/integration/harness_test.ts`.
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import {
  buildImage,
  buildIndex,
  type Fixture,
  MediaTypes,
  parsePlatform,
  pushBuilt,
  pushDockerImage,
  pushDockerManifestList,
  pushOciImage,
  pushOciIndex,
  sha256Digest,
} from "../helpers/images.ts";
import { startPagingProxy } from "../helpers/paging_proxy.ts";
import { freePort, makeTestCA, registryFetch, startRegistry } from "../helpers/registry.ts";
import { skopeo, skopeoInspect, skopeoInspectRaw, skopeoListTags } from "../helpers/skopeo.ts";
import { addTags } from "../helpers/tags.ts";

const ACCEPT_ALL = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
].join(", ");

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function portIsFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("freePort returns a bindable port", () => {
  const p = freePort();
  assert.ok(p > 0 && p < 65536);
  assert.ok(portIsFree(p));
});

Deno.test("registry starts, serves /v2/ and stops cleanly", async () => {
  const reg = await startRegistry();
  const port = Number(reg.host.split(":")[1]);
  assert.match(reg.host, /^127\.0\.0\.1:\d+$/);
  assert.equal(reg.url, `http://${reg.host}`);
  assert.ok(await exists(reg.root));
  const res = await registryFetch(reg, "/v2/");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("docker-distribution-api-version"), "registry/2.0");
  assert.ok(!portIsFree(port));
  await reg.stop();
  await reg.stop(); // idempotent
  assert.ok(portIsFree(port), "port released");
  assert.ok(!(await exists(reg.dir)), "temp dir removed");
});

Deno.test("startup failure reports the registry log", async () => {
  await assert.rejects(
    () => startRegistry({ extraConfig: "auth:\n  bogusauth: {}\n", timeoutMs: 5000 }),
    /exited during startup[\s\S]*bogusauth/,
  );
});

Deno.test("htpasswd registry refuses anonymous and accepts the user", async () => {
  const reg = await startRegistry({ htpasswd: { username: "alice", password: "s3cret" } });
  try {
    const anon = await registryFetch(reg, "/v2/", { anonymous: true });
    assert.equal(anon.status, 401);
    assert.match(anon.headers.get("www-authenticate") ?? "", /^Basic realm="dtool-test"/);
    const bad = await registryFetch(reg, "/v2/", {
      headers: { authorization: "Basic " + btoa("alice:wrong") },
    });
    assert.equal(bad.status, 401);
    assert.equal((await registryFetch(reg, "/v2/")).status, 200);
    // Fixtures push with the registry's credentials.
    const fx = await pushOciImage(reg, "private/app:v1", { layers: 1 });
    assert.deepEqual(await skopeoInspectRaw(fx.ref, { creds: "alice:s3cret" }), fx.raw);
    await assert.rejects(() => skopeoInspectRaw(fx.ref), /unauthorized|authentication required/i);
  } finally {
    await reg.stop();
  }
});

async function checkServed(reg: Awaited<ReturnType<typeof startRegistry>>, fx: Fixture) {
  const [repo, tag] = fx.ref.slice(reg.host.length + 1).split(":");
  assert.equal(fx.digest, sha256Digest(fx.raw));
  for (const ref of [tag, fx.digest]) {
    const res = await registryFetch(reg, `/v2/${repo}/manifests/${ref}`, {
      headers: { accept: ACCEPT_ALL },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), fx.mediaType);
    assert.equal(res.headers.get("docker-content-digest"), fx.digest);
    assert.deepEqual(res.body, fx.raw);
  }
  const m = JSON.parse(new TextDecoder().decode(fx.raw));
  assert.equal(m.mediaType, fx.mediaType);
  return { repo, m };
}

async function checkImageBlobs(
  reg: Awaited<ReturnType<typeof startRegistry>>,
  repo: string,
  manifest: { config: { digest: string }; layers: { digest: string; mediaType: string }[] },
  platform: string,
) {
  const cfgRes = await registryFetch(reg, `/v2/${repo}/blobs/${manifest.config.digest}`);
  assert.equal(cfgRes.status, 200);
  assert.equal(sha256Digest(cfgRes.body), manifest.config.digest);
  const cfg = cfgRes.json<Record<string, unknown>>();
  const p = parsePlatform(platform);
  assert.equal(cfg.os, p.os);
  assert.equal(cfg.architecture, p.architecture);
  assert.equal(cfg.variant, p.variant);
  const diffIds = (cfg.rootfs as { diff_ids: string[] }).diff_ids;
  assert.equal(diffIds.length, manifest.layers.length);
  for (const [i, l] of manifest.layers.entries()) {
    const res = await registryFetch(reg, `/v2/${repo}/blobs/${l.digest}`);
    assert.equal(res.status, 200);
    assert.equal(sha256Digest(res.body), l.digest);
    const tar = new Uint8Array(gunzipSync(res.body));
    assert.equal(sha256Digest(tar), diffIds[i], "diff_id = sha256 of uncompressed tar");
    assert.equal(new TextDecoder().decode(tar.subarray(257, 262)), "ustar");
  }
}

Deno.test("fixtures push and read back byte-exact", async (t) => {
  const reg = await startRegistry();
  try {
    await t.step("built bytes == served bytes", async () => {
      const built = buildImage("docker", { layers: 1, platform: "linux/arm64/v8" });
      const fx = await pushBuilt(reg, "built/img:one", built);
      assert.deepEqual(fx.raw, built.manifest);
      assert.equal(fx.digest, built.digest);
      const idx = buildIndex("oci", ["linux/amd64", "linux/s390x"], { layers: 1 });
      const fxi = await pushBuilt(reg, "built/idx:one", idx);
      assert.deepEqual(fxi.raw, idx.manifest);
      assert.equal(fxi.digest, idx.digest);
      assert.deepEqual(fxi.children?.map((c) => c.digest), idx.images.map((i) => i.digest));
    });

    for (
      const [name, push, mt, cfgMt, layerMt] of [
        [
          "OCI image",
          pushOciImage,
          MediaTypes.ociManifest,
          MediaTypes.ociConfig,
          MediaTypes.ociLayerGzip,
        ],
        [
          "Docker image",
          pushDockerImage,
          MediaTypes.dockerManifest,
          MediaTypes.dockerConfig,
          MediaTypes.dockerLayerGzip,
        ],
      ] as const
    ) {
      await t.step(name, async () => {
        const fx = await push(reg, `single/${name.split(" ")[0].toLowerCase()}:v1`, {
          layers: 3,
          layerSize: 4096,
          platform: "linux/arm/v7",
        });
        assert.equal(fx.mediaType, mt);
        assert.deepEqual(await skopeoInspectRaw(fx.ref), fx.raw);
        const { repo, m } = await checkServed(reg, fx);
        assert.equal(m.config.mediaType, cfgMt);
        assert.equal(m.layers.length, 3);
        for (const l of m.layers) assert.equal(l.mediaType, layerMt);
        await checkImageBlobs(reg, repo, m, "linux/arm/v7");
        const info = await skopeoInspect(fx.ref);
        assert.equal(info.Architecture, "arm");
        assert.equal(info.Os, "linux");
        // skopeo 1.9.3's `inspect` has no Variant field; read it from the config instead.
        const cfg = JSON.parse(
          await skopeo(["inspect", "--config", "--tls-verify=false", `docker://${fx.ref}`]),
        );
        assert.equal(cfg.variant, "v7");
        assert.equal((info.Labels as Record<string, string>)["org.dtool.test"], "true");
        assert.ok((info.Env as string[]).includes("DTOOL_TEST=1"));
      });
    }

    for (
      const [name, push, mt, childMt] of [
        ["OCI index", pushOciIndex, MediaTypes.ociIndex, MediaTypes.ociManifest],
        [
          "Docker manifest list",
          pushDockerManifestList,
          MediaTypes.dockerManifestList,
          MediaTypes.dockerManifest,
        ],
      ] as const
    ) {
      await t.step(name, async () => {
        const fx = await push(reg, `multi/${name.split(" ")[0].toLowerCase()}:v1`);
        assert.equal(fx.mediaType, mt);
        assert.deepEqual(await skopeoInspectRaw(fx.ref), fx.raw);
        const { repo, m } = await checkServed(reg, fx);
        const platforms = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"];
        assert.deepEqual(fx.children?.map((c) => c.platform), platforms);
        assert.equal(m.manifests.length, 3);
        for (const [i, d] of m.manifests.entries()) {
          assert.equal(d.mediaType, childMt);
          assert.equal(d.digest, fx.children![i].digest);
          assert.deepEqual(d.platform, parsePlatform(platforms[i]));
          const child = await registryFetch(reg, `/v2/${repo}/manifests/${d.digest}`, {
            headers: { accept: ACCEPT_ALL },
          });
          assert.equal(child.status, 200);
          assert.equal(child.headers.get("content-type"), childMt);
          assert.equal(sha256Digest(child.body), d.digest);
          assert.equal(child.body.length, d.size);
          await checkImageBlobs(reg, repo, child.json(), platforms[i]);
        }
        // skopeo resolves the list to the host platform (amd64).
        const info = await skopeoInspect(fx.ref);
        assert.equal(info.Architecture, "amd64");
      });
    }
  } finally {
    await reg.stop();
  }
});

Deno.test("paging proxy pages 150 tags via Link headers", async () => {
  const reg = await startRegistry();
  const proxy = await startPagingProxy(reg.url, 40);
  try {
    const tags = Array.from({ length: 150 }, (_, i) => `t${String(i).padStart(3, "0")}`);
    const fx = await pushOciImage(reg, `paged/repo:${tags[0]}`, { layers: 1 });
    await addTags(reg, "paged/repo", tags.slice(1, 75), fx);
    await addTags(reg, "paged/repo", tags.slice(75), tags[0]); // by tag reference
    // distribution 2.8 itself ignores n= and returns everything.
    const direct = await registryFetch(reg, "/v2/paged/repo/tags/list?n=10");
    assert.equal(direct.json<{ tags: string[] }>().tags.length, 150);
    assert.equal(direct.headers.get("link"), null);

    const seen: string[] = [];
    let next: string | null = "/v2/paged/repo/tags/list";
    let pages = 0;
    while (next) {
      const res: Response = await fetch(proxy.url + next);
      assert.equal(res.status, 200);
      const body = await res.json() as { name: string; tags: string[] };
      assert.equal(body.name, "paged/repo");
      assert.ok(body.tags.length <= 40);
      seen.push(...body.tags);
      pages++;
      const link = res.headers.get("link");
      next = link ? /^<([^>]+)>;\s*rel="next"$/.exec(link)![1] : null;
    }
    assert.ok(pages >= 3, `pages=${pages}`);
    assert.equal(pages, 4);
    assert.deepEqual(seen, tags);
    assert.deepEqual((await skopeoListTags(`${reg.host}/paged/repo`)).sort(), tags);
    // skopeo follows the proxy's Link headers too.
    assert.deepEqual(await skopeoListTags(`${proxy.host}/paged/repo`), tags);

    // n smaller than the page size, and last= continuation.
    const small = await fetch(`${proxy.url}/v2/paged/repo/tags/list?n=5&last=t010`);
    assert.deepEqual((await small.json()).tags, ["t011", "t012", "t013", "t014", "t015"]);
    assert.equal(small.headers.get("link"), '</v2/paged/repo/tags/list?n=5&last=t015>; rel="next"');
    const tail = await fetch(`${proxy.url}/v2/paged/repo/tags/list?last=t140`);
    assert.equal((await tail.json()).tags.length, 9);
    assert.equal(tail.headers.get("link"), null);

    // Everything else is forwarded: manifests, blob HEAD sizes, and pushes (upload Location).
    const head = await fetch(`${proxy.url}/v2/paged/repo/blobs/${fx.layers![0].digest}`, {
      method: "HEAD",
    });
    await head.body?.cancel();
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(fx.layers![0].size));
    const viaProxy = await pushOciImage(
      { ...reg, host: proxy.host, url: proxy.url },
      "proxied/repo:v1",
      { layers: 2, layerSize: 200_000 },
    );
    assert.deepEqual(await skopeoInspectRaw(`${reg.host}/proxied/repo:v1`), viaProxy.raw);
    const missing = await fetch(`${proxy.url}/v2/nope/tags/list`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await proxy.stop();
    await reg.stop();
  }
});

Deno.test("extraConfig can switch the registry to token auth", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dtool-token-" });
  try {
    const ca = await makeTestCA(dir);
    const reg = await startRegistry({
      extraConfig: `auth:
  token:
    realm: http://127.0.0.1:9/token
    service: dtool-test-registry
    issuer: dtool-test
    rootcertbundle: ${ca.caCert}
`,
    });
    try {
      const res = await registryFetch(reg, "/v2/");
      assert.equal(res.status, 401);
      assert.equal(
        res.headers.get("www-authenticate"),
        'Bearer realm="http://127.0.0.1:9/token",service="dtool-test-registry"',
      );
    } finally {
      await reg.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TLS registry with the test CA", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dtool-ca-" });
  try {
    const ca = await makeTestCA(dir, ["127.0.0.1", "localhost"]);
    const reg = await startRegistry({
      tls: { certFile: ca.cert, keyFile: ca.key, caCert: ca.caCert },
    });
    try {
      assert.match(reg.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const curl = await new Deno.Command("curl", {
        args: [
          "-sS",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "--cacert",
          ca.caCert,
          reg.url + "/v2/",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(curl.success, new TextDecoder().decode(curl.stderr));
      assert.equal(new TextDecoder().decode(curl.stdout), "200");
      assert.equal((await registryFetch(reg, "/v2/")).status, 200); // Deno fetch trusts ca.crt

      const fx = await pushDockerImage(reg, "secure/app:v1", { layers: 1 });
      // Verified TLS with skopeo: the CA dir is a valid --cert-dir.
      assert.deepEqual(await skopeoInspectRaw(fx.ref, { certDir: dir }), fx.raw);
      await skopeo([
        "copy",
        "--quiet",
        `--src-cert-dir=${dir}`,
        `--dest-cert-dir=${dir}`,
        `docker://${fx.ref}`,
        `docker://${reg.host}/secure/copy:v1`,
      ]);
      assert.deepEqual(
        await skopeoInspectRaw(`${reg.host}/secure/copy:v1`, { certDir: dir }),
        fx.raw,
      );
      // Without the CA, verification fails.
      const empty = await Deno.makeTempDir({ prefix: "dtool-noca-" });
      try {
        await assert.rejects(
          () => skopeo(["inspect", "--raw", `--cert-dir=${empty}`, `docker://${fx.ref}`]),
          /certificate|x509/i,
        );
      } finally {
        await Deno.remove(empty, { recursive: true });
      }
    } finally {
      await reg.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
