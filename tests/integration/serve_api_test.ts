/**
 * `dtool serve` endpoint by endpoint, with fetch: what the distribution spec
 * v1.1 says each answers (statuses, headers, error codes), and what the
 * storage holds afterwards.
 */
import assert from "node:assert/strict";
import { sha256 } from "../helpers/dtool.ts";
import { startServe, type TestServe } from "../helpers/serve.ts";

const enc = new TextEncoder();
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

interface Res {
  status: number;
  headers: Headers;
  body: Uint8Array;
  text: string;
  json: () => Record<string, unknown>;
}

async function call(
  reg: TestServe,
  path: string,
  init: RequestInit & { duplex?: string } = {},
): Promise<Res> {
  const headers = new Headers(init.headers);
  if (reg.auth && !headers.has("authorization")) {
    headers.set("authorization", "Basic " + btoa(`${reg.auth.username}:${reg.auth.password}`));
  }
  const res = await fetch(/^https?:/.test(path) ? path : reg.url + path, {
    ...init,
    headers,
    redirect: "manual",
  });
  const body = new Uint8Array(await res.arrayBuffer());
  const text = new TextDecoder().decode(body);
  return { status: res.status, headers: res.headers, body, text, json: () => JSON.parse(text) };
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

function errorCode(r: Res): string {
  return (r.json().errors as { code: string }[])[0].code;
}

async function pushBlob(reg: TestServe, repo: string, bytes: Uint8Array): Promise<string> {
  const digest = await sha256(bytes);
  const r = await call(reg, `/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    method: "POST",
    body: bytes as BodyInit,
    headers: { "content-type": "application/octet-stream" },
  });
  assert.equal(r.status, 201, r.text);
  return digest;
}

async function pushImage(
  reg: TestServe,
  repo: string,
  tag: string,
  extra: Record<string, unknown> = {},
): Promise<{ digest: string; raw: Uint8Array; config: string; layer: string }> {
  const config = await pushBlob(reg, repo, enc.encode(`{"n":${Math.random()}}`));
  const layer = await pushBlob(reg, repo, crypto.getRandomValues(new Uint8Array(1000)));
  const cfgSize = (await call(reg, `/v2/${repo}/blobs/${config}`, { method: "HEAD" })).headers
    .get("content-length");
  const raw = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: config,
      size: Number(cfgSize),
    },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layer, size: 1000 }],
    ...extra,
  }));
  const r = await call(reg, `/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    body: raw as BodyInit,
    headers: { "content-type": OCI_MANIFEST },
  });
  assert.equal(r.status, 201, r.text);
  return { digest: await sha256(raw), raw, config, layer };
}

async function withServe(
  fn: (reg: TestServe) => Promise<void>,
  opts: Parameters<typeof startServe>[0] = {},
) {
  const reg = await startServe(opts);
  try {
    await fn(reg);
  } finally {
    await reg.stop();
  }
}

Deno.test("serve: the base endpoint, blobs pushed whole and read with Range", async () => {
  await withServe(async (reg) => {
    const base = await call(reg, "/v2/");
    assert.equal(base.status, 200);
    assert.equal(base.headers.get("docker-distribution-api-version"), "registry/2.0");

    const bytes = crypto.getRandomValues(new Uint8Array(5000));
    const digest = await pushBlob(reg, "a/b", bytes);
    const head = await call(reg, `/v2/a/b/blobs/${digest}`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), "5000");
    assert.equal(head.headers.get("docker-content-digest"), digest);
    const get = await call(reg, `/v2/a/b/blobs/${digest}`);
    assert.deepEqual(get.body, bytes);

    const part = await call(reg, `/v2/a/b/blobs/${digest}`, { headers: { range: "bytes=10-19" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), "bytes 10-19/5000");
    assert.deepEqual(part.body, bytes.subarray(10, 20));
    const tail = await call(reg, `/v2/a/b/blobs/${digest}`, { headers: { range: "bytes=4990-" } });
    assert.deepEqual(tail.body, bytes.subarray(4990));
    const bad = await call(reg, `/v2/a/b/blobs/${digest}`, { headers: { range: "bytes=6000-" } });
    assert.equal(bad.status, 416);

    // POST then PUT with the body.
    const other = enc.encode("second blob");
    const post = await call(reg, "/v2/a/b/blobs/uploads/", { method: "POST" });
    assert.equal(post.status, 202);
    const location = post.headers.get("location")!;
    const put = await call(reg, `${location}?digest=${await sha256(other)}`, {
      method: "PUT",
      body: other as BodyInit,
    });
    assert.equal(put.status, 201, put.text);
    assert.equal(put.headers.get("location"), `/v2/a/b/blobs/${await sha256(other)}`);

    // Visible in its repository only.
    assert.equal((await call(reg, `/v2/other/blobs/${digest}`, { method: "HEAD" })).status, 404);
  });
});

Deno.test("serve: chunked uploads in order, out of order (416) and resumed from GET's Range", async () => {
  await withServe(async (reg) => {
    const bytes = crypto.getRandomValues(new Uint8Array(3000));
    const digest = await sha256(bytes);
    const post = await call(reg, "/v2/c/blobs/uploads/", { method: "POST" });
    let location = post.headers.get("location")!;
    const patch = (from: number, to: number) =>
      call(reg, location, {
        method: "PATCH",
        body: bytes.slice(from, to) as BodyInit,
        headers: {
          "content-range": `${from}-${to - 1}`,
          "content-type": "application/octet-stream",
        },
      });
    const first = await patch(0, 1000);
    assert.equal(first.status, 202);
    assert.equal(first.headers.get("range"), "0-999");
    location = first.headers.get("location")!;

    const skipped = await patch(2000, 3000);
    assert.equal(skipped.status, 416);
    assert.equal(errorCode(skipped), "BLOB_UPLOAD_INVALID");
    assert.equal(skipped.headers.get("range"), "0-999");

    const status = await call(reg, location);
    assert.equal(status.status, 204);
    assert.equal(status.headers.get("range"), "0-999");

    // A body longer than its Content-Range is refused and leaves the session where it was.
    const tooLong = await call(reg, location, {
      method: "PATCH",
      body: new Blob([bytes.slice(1000, 2000)]).stream(),
      duplex: "half",
      headers: { "content-range": "1000-1499" },
    });
    assert.equal(tooLong.status, 400);
    assert.equal(errorCode(tooLong), "SIZE_INVALID");
    assert.equal((await call(reg, location)).headers.get("range"), "0-999");

    assert.equal((await patch(1000, 2000)).status, 202);
    assert.equal((await patch(2000, 3000)).status, 202);
    const wrong = await call(reg, `${location}?digest=sha256:${"0".repeat(64)}`, { method: "PUT" });
    assert.equal(wrong.status, 400);
    assert.equal(errorCode(wrong), "DIGEST_INVALID");
    assert.equal((await call(reg, `/v2/c/blobs/sha256:${"0".repeat(64)}`)).status, 404);
    // The mismatch ended the session: the upload starts again, and the right digest goes in.
    assert.equal(errorCode(await call(reg, location)), "BLOB_UPLOAD_UNKNOWN");
    const again = await call(reg, `/v2/c/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      body: bytes as BodyInit,
    });
    assert.equal(again.status, 201);
    assert.deepEqual((await call(reg, `/v2/c/blobs/${digest}`)).body, bytes);

    const leftovers = [...Deno.readDirSync(reg.storage)].filter((e) => e.name.endsWith(".tmp"));
    assert.deepEqual(leftovers, [], "no temporary files once uploads ended");
  });
});

Deno.test("serve: cross-repository mount, 201 when the source has the blob, else a session", async () => {
  await withServe(async (reg) => {
    const digest = await pushBlob(reg, "src/repo", enc.encode("mount me"));
    const ok = await call(reg, `/v2/dst/blobs/uploads/?mount=${digest}&from=src/repo`, {
      method: "POST",
    });
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.get("location"), `/v2/dst/blobs/${digest}`);
    assert.equal((await call(reg, `/v2/dst/blobs/${digest}`)).text, "mount me");

    const no = await call(reg, `/v2/dst2/blobs/uploads/?mount=${digest}&from=nowhere`, {
      method: "POST",
    });
    assert.equal(no.status, 202);
    assert.match(no.headers.get("location")!, /^\/v2\/dst2\/blobs\/uploads\//);
    assert.equal((await call(reg, `/v2/dst2/blobs/${digest}`, { method: "HEAD" })).status, 404);
  });
});

Deno.test("serve: manifests by tag and digest, checks on PUT, Accept, tags and catalog pages", async () => {
  await withServe(async (reg) => {
    const missing = await call(reg, "/v2/m/manifests/1", {
      method: "PUT",
      headers: { "content-type": OCI_MANIFEST },
      body: JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: "x/y", digest: `sha256:${"1".repeat(64)}`, size: 1 },
        layers: [],
      }),
    });
    assert.equal(missing.status, 400);
    assert.equal(errorCode(missing), "MANIFEST_BLOB_UNKNOWN");
    const invalid = await call(reg, "/v2/m/manifests/1", {
      method: "PUT",
      headers: { "content-type": OCI_MANIFEST },
      body: "{not json",
    });
    assert.equal(errorCode(invalid), "MANIFEST_INVALID");

    const img = await pushImage(reg, "m", "1");
    for (const ref of ["1", img.digest]) {
      const get = await call(reg, `/v2/m/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
      assert.equal(get.status, 200);
      assert.deepEqual(get.body, img.raw);
      assert.equal(get.headers.get("content-type"), OCI_MANIFEST);
      assert.equal(get.headers.get("docker-content-digest"), img.digest);
    }
    const head = await call(reg, "/v2/m/manifests/1", { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), String(img.raw.byteLength));
    const refused = await call(reg, "/v2/m/manifests/1", {
      headers: { accept: "application/vnd.docker.distribution.manifest.v2+json" },
    });
    assert.equal(refused.status, 404);

    // An index naming a child the repository lacks is refused; with it, accepted.
    const index = (child: string) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: OCI_MANIFEST, digest: child, size: img.raw.byteLength }],
      });
    const noChild = await call(reg, "/v2/other/manifests/i", {
      method: "PUT",
      headers: { "content-type": OCI_INDEX },
      body: index(img.digest),
    });
    assert.equal(errorCode(noChild), "MANIFEST_BLOB_UNKNOWN");
    const okIndex = await call(reg, "/v2/m/manifests/i", {
      method: "PUT",
      headers: { "content-type": OCI_INDEX },
      body: index(img.digest),
    });
    assert.equal(okIndex.status, 201);

    for (const t of ["b", "a", "c", "d"]) {
      assert.equal(
        (await call(reg, `/v2/m/manifests/${t}`, {
          method: "PUT",
          headers: { "content-type": OCI_MANIFEST },
          body: img.raw as BodyInit,
        })).status,
        201,
      );
    }
    const all = await call(reg, "/v2/m/tags/list");
    assert.deepEqual(all.json(), { name: "m", tags: ["1", "a", "b", "c", "d", "i"] });
    const page = await call(reg, "/v2/m/tags/list?n=2&last=a");
    assert.deepEqual(page.json().tags, ["b", "c"]);
    assert.equal(page.headers.get("link"), '</v2/m/tags/list?n=2&last=c>; rel="next"');
    const lastPage = await call(reg, "/v2/m/tags/list?n=2&last=c");
    assert.deepEqual(lastPage.json().tags, ["d", "i"]);
    assert.equal(lastPage.headers.get("link"), null);

    await pushBlob(reg, "z/last", enc.encode("z"));
    await pushBlob(reg, "a/first", enc.encode("a"));
    const cat = await call(reg, "/v2/_catalog?n=2");
    assert.deepEqual(cat.json().repositories, ["a/first", "m"]);
    assert.equal(cat.headers.get("link"), '</v2/_catalog?n=2&last=m>; rel="next"');
    const rest = await call(reg, "/v2/_catalog?n=2&last=m");
    assert.deepEqual(rest.json().repositories, ["z/last"]);
  });
});

Deno.test("serve: referrers with artifactType filtering; a missing subject is accepted", async () => {
  await withServe(async (reg) => {
    const subject = { mediaType: OCI_MANIFEST, digest: `sha256:${"5".repeat(64)}`, size: 10 };
    const sig = await pushImage(reg, "r", sig_tag(), {
      artifactType: "application/vnd.example.sig",
      subject,
    });
    const sbom = await pushImage(reg, "r", sig_tag(), {
      artifactType: "application/vnd.example.sbom",
      subject,
      annotations: { "org.example": "yes" },
    });
    const put = await call(reg, `/v2/r/manifests/${sig.digest}`, {
      method: "PUT",
      headers: { "content-type": OCI_MANIFEST },
      body: sig.raw as BodyInit,
    });
    assert.equal(put.headers.get("oci-subject"), subject.digest);

    const all = await call(reg, `/v2/r/referrers/${subject.digest}`);
    assert.equal(all.status, 200);
    assert.equal(all.headers.get("content-type"), OCI_INDEX);
    const list = all.json().manifests as { digest: string; artifactType: string }[];
    assert.deepEqual(list.map((d) => d.digest).sort(), [sig.digest, sbom.digest].sort());
    const only = await call(
      reg,
      `/v2/r/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`,
    );
    assert.equal(only.headers.get("oci-filters-applied"), "artifactType");
    assert.deepEqual(only.json().manifests, [{
      mediaType: OCI_MANIFEST,
      digest: sbom.digest,
      size: sbom.raw.byteLength,
      artifactType: "application/vnd.example.sbom",
      annotations: { "org.example": "yes" },
    }]);
    const none = await call(reg, `/v2/r/referrers/sha256:${"6".repeat(64)}`);
    assert.deepEqual(none.json().manifests, []);
  });
});

let tagCounter = 0;
function sig_tag(): string {
  return `t${tagCounter++}`;
}

Deno.test("serve: deletes of tags, manifests and blobs", async () => {
  await withServe(async (reg) => {
    const img = await pushImage(reg, "d", "1");
    for (const t of ["2", "3"]) {
      await call(reg, `/v2/d/manifests/${t}`, {
        method: "PUT",
        headers: { "content-type": OCI_MANIFEST },
        body: img.raw as BodyInit,
      });
    }
    // The same manifest in another repository.
    await call(reg, `/v2/e/blobs/uploads/?mount=${img.config}&from=d`, { method: "POST" });
    await call(reg, `/v2/e/blobs/uploads/?mount=${img.layer}&from=d`, { method: "POST" });
    const inE = await call(reg, "/v2/e/manifests/keep", {
      method: "PUT",
      headers: { "content-type": OCI_MANIFEST },
      body: img.raw as BodyInit,
    });
    assert.equal(inE.status, 201, inE.text);

    assert.equal((await call(reg, "/v2/d/manifests/3", { method: "DELETE" })).status, 202);
    assert.deepEqual((await call(reg, "/v2/d/tags/list")).json().tags, ["1", "2"]);
    assert.equal(
      errorCode(await call(reg, "/v2/d/manifests/3", { method: "DELETE" })),
      "MANIFEST_UNKNOWN",
    );

    const used = await call(reg, `/v2/d/blobs/${img.layer}`, { method: "DELETE" });
    assert.equal(used.status, 405);
    assert.equal(errorCode(used), "UNSUPPORTED");

    assert.equal(
      (await call(reg, `/v2/d/manifests/${img.digest}`, { method: "DELETE" })).status,
      202,
    );
    assert.deepEqual((await call(reg, "/v2/d/tags/list")).json().tags, []);
    assert.equal((await call(reg, `/v2/d/manifests/${img.digest}`)).status, 404);
    assert.equal(
      (await call(reg, "/v2/e/manifests/keep")).status,
      200,
      "other repository keeps it",
    );

    // A manifest an index of the repository names cannot go while the index stays.
    const child = await pushImage(reg, "x", "c");
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ mediaType: OCI_MANIFEST, digest: child.digest, size: child.raw.byteLength }],
    }));
    const put = await call(reg, "/v2/x/manifests/idx", {
      method: "PUT",
      headers: { "content-type": "application/vnd.oci.image.index.v1+json" },
      body: index as BodyInit,
    });
    assert.equal(put.status, 201, put.text);
    assert.equal((await call(reg, "/v2/x/manifests/c", { method: "DELETE" })).status, 202);
    const refused = await call(reg, `/v2/x/manifests/${child.digest}`, { method: "DELETE" });
    assert.equal(refused.status, 405);
    assert.equal(errorCode(refused), "UNSUPPORTED");
    assert.equal((await call(reg, `/v2/x/manifests/${child.digest}`)).status, 200);

    // A blob no manifest uses goes from disk once no repository records it.
    const lone = await pushBlob(reg, "d", enc.encode("lonely"));
    const path = `${reg.storage}/blobs/sha256/${lone.slice(7)}`;
    assert.ok(Deno.statSync(path).isFile);
    assert.equal((await call(reg, `/v2/d/blobs/${lone}`, { method: "DELETE" })).status, 202);
    assert.throws(() => Deno.statSync(path));
    assert.equal((await call(reg, `/v2/d/blobs/${lone}`, { method: "HEAD" })).status, 404);
  });
});

Deno.test("serve: error codes and statuses of the spec", async () => {
  await withServe(async (reg) => {
    const cases: [string, RequestInit, number, string][] = [
      ["/v2/UPPER/tags/list", {}, 400, "NAME_INVALID"],
      ["/v2/a/..%2f..%2fetc/manifests/x", {}, 400, "NAME_INVALID"],
      ["/v2/nope/tags/list", {}, 404, "NAME_UNKNOWN"],
      ["/v2/nope/manifests/latest", {}, 404, "MANIFEST_UNKNOWN"],
      [`/v2/nope/blobs/sha256:${"a".repeat(64)}`, {}, 404, "BLOB_UNKNOWN"],
      ["/v2/nope/blobs/sha256:xyz", {}, 400, "DIGEST_INVALID"],
      ["/v2/nope/blobs/uploads/0000", {}, 404, "BLOB_UPLOAD_UNKNOWN"],
      ["/v2/nope/tags/list", { method: "POST" }, 405, "UNSUPPORTED"],
    ];
    for (const [path, init, status, code] of cases) {
      const r = await call(reg, path, init);
      assert.equal(r.status, status, `${path}: ${r.text}`);
      assert.equal(errorCode(r), code, path);
      assert.equal(r.headers.get("content-type"), "application/json");
    }
    assert.equal((await call(reg, "/elsewhere")).status, 404);
    const traversal = await call(reg, "/v2/..%2f..%2fetc/blobs/uploads/", { method: "POST" });
    assert.equal(traversal.status, 400);
    const entries = [...Deno.readDirSync(reg.storage)].map((e) => e.name);
    assert.deepEqual(entries.filter((n) => !["blobs", "index.json", "oci-layout"].includes(n)), []);
    assert.ok(
      reg.log.some((l) => /^GET \/v2\/nope\/tags\/list 404 \d+ \d+ms$/.test(l)),
      "access log",
    );
  });
});

Deno.test("serve: --read-only refuses writes, --htpasswd challenges, idle uploads are removed", async () => {
  await withServe(async (reg) => {
    const r = await call(reg, "/v2/x/blobs/uploads/", { method: "POST" });
    assert.equal(r.status, 405);
    assert.equal(errorCode(r), "UNSUPPORTED");
    assert.equal((await call(reg, "/v2/")).status, 200);
  }, { readOnly: true });

  await withServe(async (reg) => {
    const anon = await call(reg, "/v2/", { headers: { authorization: "Basic " + btoa("u:bad") } });
    assert.equal(anon.status, 401);
    assert.equal(errorCode(anon), "UNAUTHORIZED");
    assert.equal(anon.headers.get("www-authenticate"), 'Basic realm="dtool"');
    assert.equal((await call(reg, "/v2/")).status, 200);
  }, { htpasswd: { username: "u", password: "secret" } });

  await withServe(async (reg) => {
    const post = await call(reg, "/v2/idle/blobs/uploads/", { method: "POST" });
    const location = post.headers.get("location")!;
    await call(reg, location, { method: "PATCH", body: "abc" });
    assert.equal((await call(reg, location)).status, 204);
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(errorCode(await call(reg, location)), "BLOB_UPLOAD_UNKNOWN");
    const tmp = [...Deno.readDirSync(reg.storage)].filter((e) => e.name.endsWith(".tmp"));
    assert.deepEqual(tmp, []);
  }, { uploadIdleMs: 200 });
});

Deno.test("serve: concurrent pushes of one blob and one tag", async () => {
  await withServe(async (reg) => {
    const bytes = randomBytes(200_000);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => pushBlob(reg, "conc", bytes)),
    );
    assert.equal(new Set(results).size, 1);
    const img = await pushImage(reg, "conc", "base");
    const variants = await Promise.all(Array.from({ length: 6 }, async (_, i) => {
      const raw = enc.encode(
        new TextDecoder().decode(img.raw).replace(/}$/, `,"annotations":{"i":"${i}"}}`),
      );
      const r = await call(reg, "/v2/conc/manifests/same", {
        method: "PUT",
        headers: { "content-type": OCI_MANIFEST },
        body: raw as BodyInit,
      });
      assert.equal(r.status, 201, r.text);
      return await sha256(raw);
    }));
    const index = JSON.parse(await Deno.readTextFile(`${reg.storage}/index.json`));
    const same = index.manifests.filter((d: { annotations?: Record<string, string> }) =>
      d.annotations?.["org.opencontainers.image.ref.name"] === "conc:same"
    );
    assert.equal(same.length, 1);
    assert.ok(variants.includes(same[0].digest));
    const record = JSON.parse(await Deno.readTextFile(`${reg.storage}/dtool-repositories.json`));
    for (const d of variants) {
      assert.ok(record.repositories.conc.manifests.some((m: { digest: string }) => m.digest === d));
    }
  });
});
