/**
 * `dtool inspect` and `dtool list-tags` against a real registry, compared
 * field by field with skopeo.
 */
import assert from "node:assert/strict";
import { DockerResolver, inspectImage } from "../../mod.ts";
import { dtool, dtoolOk } from "../helpers/dtool.ts";
import { copyHeaders } from "../helpers/forward.ts";
import { pushDockerImage, pushOciImage, pushOciIndex, sha256Digest } from "../helpers/images.ts";
import { startPagingProxy } from "../helpers/paging_proxy.ts";
import { startRegistry } from "../helpers/registry.ts";
import { skopeo, skopeoBytes, skopeoInspect, skopeoListTags } from "../helpers/skopeo.ts";
import { addTags } from "../helpers/tags.ts";

/** Every field skopeo prints must be in dtool's output with the same value. */
function assertSameFields(ours: Record<string, unknown>, theirs: Record<string, unknown>) {
  for (const [key, value] of Object.entries(theirs)) {
    assert.deepEqual(ours[key], value, `field ${key}`);
  }
  const order = Object.keys(ours).filter((k) => k in theirs);
  assert.deepEqual(order, Object.keys(theirs), "skopeo's fields in skopeo's order");
}

Deno.test("inspect equals skopeo inspect field by field", async (t) => {
  const reg = await startRegistry();
  try {
    await t.step("OCI image, with every tag of the repository", async () => {
      const fx = await pushOciImage(reg, "insp/oci:1", { layers: 3 });
      await addTags(reg, "insp/oci", ["2", "latest"], fx);
      const ours = JSON.parse((await dtoolOk(["inspect", `docker://${fx.ref}`])).stdout);
      const theirs = await skopeoInspect(fx.ref);
      assertSameFields(ours, theirs);
      assert.deepEqual([...ours.RepoTags].sort(), ["1", "2", "latest"]);
      assert.equal(ours.LayersData.length, 3);
      assert.deepEqual(ours.LayersData.map((l: { Digest: string }) => l.Digest), ours.Layers);
    });

    await t.step("Docker image, output indented by four spaces", async () => {
      const fx = await pushDockerImage(reg, "insp/docker:1");
      const r = await dtoolOk(["inspect", `docker://${fx.ref}`]);
      assert.match(r.stdout, /^\{\n {4}"Name": /);
      assertSameFields(JSON.parse(r.stdout), await skopeoInspect(fx.ref));
    });

    await t.step(
      "index: Digest is the index's, fields from the chosen platform, Platforms listed",
      async () => {
        const fx = await pushOciIndex(reg, "insp/multi:1");
        const ours = JSON.parse((await dtoolOk(["inspect", `docker://${fx.ref}`])).stdout);
        assertSameFields(ours, await skopeoInspect(fx.ref));
        assert.equal(ours.Digest, fx.digest);
        assert.deepEqual(
          ours.Platforms,
          fx.children!.map((c) => ({ Platform: c.platform, Digest: c.digest })),
        );
        const arm = JSON.parse(
          (await dtoolOk(["inspect", "--platform", "linux/arm/v7", `docker://${fx.ref}`])).stdout,
        );
        assert.equal(arm.Architecture, "arm");
        assert.equal(arm.Variant, "v7");
      },
    );

    await t.step("--raw prints the manifest bytes exactly as served", async () => {
      const fx = await pushOciIndex(reg, "insp/raw:1");
      const r = await dtoolOk(["inspect", "--raw", `docker://${fx.ref}`]);
      assert.deepEqual(r.stdoutBytes, fx.raw);
    });

    await t.step("--config prints the config bytes of the chosen platform", async () => {
      const fx = await pushOciIndex(reg, "insp/config:1");
      const r = await dtoolOk([
        "inspect",
        "--config",
        "--platform",
        "linux/arm64",
        `docker://${fx.ref}`,
      ]);
      const theirs = await skopeoBytes([
        "inspect",
        "--config",
        "--raw",
        "--tls-verify=false",
        "--override-arch",
        "arm64",
        `docker://${fx.ref}`,
      ]);
      assert.deepEqual(r.stdoutBytes, theirs);
      const arm64 = fx.images!.find((i) => i.platform === "linux/arm64/v8")!;
      assert.equal(sha256Digest(r.stdoutBytes), arm64.config.digest);
    });

    await t.step("--no-tags leaves RepoTags empty", async () => {
      const fx = await pushOciImage(reg, "insp/notags:1");
      const r = JSON.parse((await dtoolOk(["inspect", "--no-tags", `docker://${fx.ref}`])).stdout);
      assert.deepEqual(r.RepoTags, []);
    });

    await t.step("a read needs no ping: its first request finds the registry", async () => {
      const fx = await pushOciImage(reg, "insp/noping:1");
      const r = await dtoolOk(["inspect", "--debug", `docker://${fx.ref}`]);
      const trace = r.stderr.split("\n").filter((l) => l.startsWith("dtool: debug: GET"));
      assert.equal(trace.length, 3, r.stderr);
      assert.match(
        trace[0],
        new RegExp(`GET http://${reg.host}/v2/insp/noping/manifests/1 200 .*first request`),
      );
      assert.ok(
        !trace.some((l) => l.includes(`${reg.host}/v2/ `)),
        `a ping was sent:\n${r.stderr}`,
      );
      assert.match(r.stderr, /debug: 3 HTTP requests/);
    });

    await t.step("the library returns the same summary", async () => {
      const fx = await pushOciImage(reg, "insp/lib:1");
      const info = await inspectImage(new DockerResolver(), fx.ref, `${reg.host}/insp/lib`);
      assert.equal(info.Digest, fx.digest);
      assert.equal(info.Name, `${reg.host}/insp/lib`);
    });
  } finally {
    await reg.stop();
  }
});

Deno.test("inspect warns and prints no tags when the registry refuses tag listing", async () => {
  const reg = await startRegistry();
  const fx = await pushOciImage(reg, "refuse/app:1");
  // A registry that refuses tags/list: a filter in front of the real one.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname.endsWith("/tags/list")) {
      return Response.json({ errors: [{ code: "DENIED", message: "listing refused" }] }, {
        status: 403,
      });
    }
    const res = await fetch(reg.url + url.pathname + url.search, {
      method: req.method,
      headers: req.headers,
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  try {
    const host = `127.0.0.1:${server.addr.port}`;
    const r = await dtoolOk(["inspect", `docker://${host}/refuse/app:1`]);
    assert.deepEqual(JSON.parse(r.stdout).RepoTags, []);
    assert.equal(JSON.parse(r.stdout).Digest, fx.digest);
    assert.match(r.stderr, /warning: cannot list tags/);
  } finally {
    await server.shutdown();
    await reg.stop();
  }
});

Deno.test("list-tags follows every page and equals skopeo list-tags", async () => {
  const reg = await startRegistry();
  const proxy = await startPagingProxy(reg.url, 40);
  try {
    const fx = await pushOciImage(reg, "paged/app:t000");
    const tags = Array.from({ length: 149 }, (_, i) => `t${String(i + 1).padStart(3, "0")}`);
    await addTags(reg, "paged/app", tags, fx);
    const r = await dtoolOk(["list-tags", `docker://${proxy.host}/paged/app`]);
    assert.match(r.stdout, /^\{\n {4}"Repository": /);
    const out = JSON.parse(r.stdout);
    assert.equal(out.Repository, `${proxy.host}/paged/app`);
    assert.equal(out.Tags.length, 150);
    assert.deepEqual(out.Tags, await skopeoListTags(`${proxy.host}/paged/app`));
    assert.ok(proxy.tagPagesServed >= 4, "the proxy served several pages");
  } finally {
    await proxy.stop();
    await reg.stop();
  }
});

Deno.test("list-tags prints an empty list for a repository without tags", async () => {
  const reg = await startRegistry();
  try {
    const fx = await pushOciImage(reg, "empty/app:gone");
    // Leave the repository with a manifest but no tag.
    await skopeo(["delete", "--tls-verify=false", `docker://${reg.host}/empty/app:gone`]);
    const probe = await fetch(`${reg.url}/v2/empty/app/tags/list`);
    assert.deepEqual(await probe.json(), { name: "empty/app", tags: null }, "registry has no tags");
    const r = await dtoolOk(["list-tags", `docker://${reg.host}/empty/app`]);
    assert.deepEqual(JSON.parse(r.stdout), { Repository: `${reg.host}/empty/app`, Tags: [] });
    assert.equal(fx.ref, `${reg.host}/empty/app:gone`);
  } finally {
    await reg.stop();
  }
});

/**
 * A proxy in front of a real registry that hides everything from anonymous clients behind 404,
 * as some registries do for private repositories, and asks for Basic credentials only at `/v2/`.
 */
function startHidingProxy(upstream: string, user: string, password: string) {
  const good = `Basic ${btoa(`${user}:${password}`)}`;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (req.headers.get("authorization") !== good) {
      if (url.pathname === "/v2/") {
        return new Response("{}", {
          status: 401,
          headers: { "www-authenticate": 'Basic realm="hidden"' },
        });
      }
      return new Response('{"errors":[{"code":"NAME_UNKNOWN"}]}', { status: 404 });
    }
    const headers = copyHeaders(req.headers);
    headers.delete("authorization");
    const res = await fetch(`${upstream}${url.pathname}${url.search}`, {
      method: req.method,
      headers,
    });
    return new Response(res.body, { status: res.status, headers: copyHeaders(res.headers) });
  });
  return { host: `127.0.0.1:${server.addr.port}`, stop: () => server.shutdown() };
}

Deno.test("a registry that answers anonymous reads with 404 still gets the credentials", async () => {
  const reg = await startRegistry();
  const proxy = startHidingProxy(reg.url, "carol", "hidden-Pass-5521");
  try {
    const fx = await pushOciImage(reg, "hid/app:1");
    const ref = `docker://${proxy.host}/hid/app:1`;
    const r = await dtoolOk([
      "inspect",
      "--raw",
      "--debug",
      "--creds",
      "carol:hidden-Pass-5521",
      ref,
    ]);
    assert.deepEqual(r.stdoutBytes, fx.raw);
    const trace = r.stderr.split("\n").filter((l) => /debug: (GET|HEAD) /.test(l));
    assert.equal(trace.length, 3, r.stderr);
    assert.match(trace[0], /manifests\/1 404 .*first request/);
    assert.match(trace[1], new RegExp(`GET http://${proxy.host}/v2/ 401`));
    assert.match(trace[2], /manifests\/1 200/);
    // Without credentials the 404 is the answer: one request, no ping.
    const anon = await dtool(["inspect", "--raw", "--debug", ref], {
      env: { DOCKER_CONFIG: "/nonexistent" },
    });
    assert.notEqual(anon.code, 0);
    assert.match(anon.stderr, /debug: 1 HTTP requests/);
  } finally {
    await proxy.stop();
    await reg.stop();
  }
});
