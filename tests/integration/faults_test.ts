/**
 * `copy` under injected faults: the source registry sits behind a fault proxy
 * (tests/helpers/fault_proxy.ts) that resets connections, answers 5xx and 429,
 * stalls, corrupts bytes and ignores Range; the destination is reached
 * directly. After every successful copy skopeo must read the source manifest
 * bytes from the destination and every blob there must hash to its digest;
 * after every failed one the destination tag must be untouched.
 */
import assert from "node:assert/strict";
import { copyImage, DockerResolver, type ProgressEvent } from "../../mod.ts";
import { dtool, dtoolOk } from "../helpers/dtool.ts";
import {
  blobGet,
  type FaultProxy,
  type FaultSchedule,
  manifestRequest,
  type ProxyLogEntry,
  startFaultProxy,
} from "../helpers/fault_proxy.ts";
import { type Fixture, pushOciImage, sha256Digest } from "../helpers/images.ts";
import { registryFetch, startRegistry, type TestRegistry } from "../helpers/registry.ts";
import { skopeo, skopeoInspectRaw } from "../helpers/skopeo.ts";

const REPO = "faults/app";
/** Three layers of 256 KiB: big enough to cut mid-way, small enough to be quick. */
const IMAGE = { layers: 3, layerSize: 256 * 1024 };
/** Where a reset cuts a layer: well inside it. */
const CUT = 100_000;

interface Env {
  src: TestRegistry;
  dst: TestRegistry;
  proxy: FaultProxy;
  fx: Fixture;
  /** The source image, reached through the proxy. */
  srcRef: string;
  /** The first layer: the blob most faults aim at. */
  layer: string;
}

/** Starts two registries, pushes the fixture to the source and puts the proxy in front of it. */
async function withFaults(
  schedule: (fx: Fixture) => FaultSchedule,
  fn: (env: Env) => Promise<void>,
): Promise<void> {
  const src = await startRegistry();
  const dst = await startRegistry();
  let proxy: FaultProxy | undefined;
  try {
    const fx = await pushOciImage(src, `${REPO}:1`, IMAGE);
    proxy = await startFaultProxy(src.url, schedule(fx));
    await fn({
      src,
      dst,
      proxy,
      fx,
      srcRef: `${proxy.host}/${REPO}:1`,
      layer: fx.layers![0].digest,
    });
  } finally {
    await proxy?.stop();
    await src.stop();
    await dst.stop();
  }
}

/** Copies with the library, fast retry and read-timeout settings, recording progress. */
async function libCopy(env: Env, dest: string, opts: { retryTimes?: number } = {}) {
  const events: ProgressEvent[] = [];
  const result = await copyImage(
    {
      resolver: new DockerResolver({ retryDelayMs: 50, readTimeoutMs: 1000 }),
      ref: env.srcRef,
    },
    {
      resolver: new DockerResolver({ retryDelayMs: 50 }),
      ref: `${env.dst.host}/${dest}`,
      tag: dest.split(":")[1],
    },
    { onProgress: (e) => events.push(e), retryTimes: opts.retryTimes },
  );
  return { result, events };
}

/**
 * The destination serves the source manifest bytes under `dest` (judged by skopeo) and every
 * blob of the image, each hashing to its digest.
 */
async function assertCopied(env: Env, dest: string): Promise<void> {
  const { dst, fx } = env;
  assert.deepEqual(await skopeoInspectRaw(`${dst.host}/${dest}`), fx.raw, "manifest bytes");
  const repo = dest.split(":")[0];
  const blobs = [
    { digest: fx.config!.digest, size: fx.config!.raw.byteLength },
    ...fx.layers!,
  ];
  for (const b of blobs) {
    const res = await registryFetch(dst, `/v2/${repo}/blobs/${b.digest}`);
    assert.equal(res.status, 200, `blob ${b.digest} at the destination`);
    assert.equal(res.body.byteLength, b.size, `size of ${b.digest}`);
    assert.equal(sha256Digest(res.body), b.digest, `bytes of ${b.digest}`);
  }
}

/** True when skopeo can read the reference. */
async function readable(ref: string): Promise<boolean> {
  try {
    await skopeoInspectRaw(ref);
    return true;
  } catch {
    return false;
  }
}

/** The proxy's log entries for GETs of one blob. */
function blobGets(proxy: FaultProxy, digest: string): ProxyLogEntry[] {
  return proxy.log.filter((e) => e.method === "GET" && e.path.endsWith(`/blobs/${digest}`));
}

/** The byte offset a `Range: bytes=N-` header asks for. */
function rangeStart(range: string | null): number {
  const m = /^bytes=(\d+)-$/.exec(range ?? "");
  assert.ok(m, `a Range request, not ${range}`);
  return Number(m[1]);
}

async function readAllBody(res: Response): Promise<{ bytes: Uint8Array; error?: unknown }> {
  const chunks: Uint8Array[] = [];
  let error: unknown;
  try {
    for await (const c of res.body!) chunks.push(c);
  } catch (e) {
    error = e;
  }
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return { bytes, error };
}

Deno.test("the fault proxy forwards pushes and pulls unchanged, and its faults reach the client", async () => {
  await withFaults(() => ({}), async ({ src, dst, proxy, fx }) => {
    // skopeo pushes through the proxy: POST, PATCH/PUT with streamed bodies, Location rewritten.
    await skopeo([
      "copy",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      `docker://${src.host}/${REPO}:1`,
      `docker://${proxy.host}/pushed/app:1`,
    ]);
    assert.ok(proxy.log.some((e) => e.method === "PUT" && e.path.includes("/blobs/uploads/")));
    assert.deepEqual(await skopeoInspectRaw(`${src.host}/pushed/app:1`), fx.raw);
    // …and pulls through it.
    await skopeo([
      "copy",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      `docker://${proxy.host}/pushed/app:1`,
      `docker://${dst.host}/pulled/app:1`,
    ]);
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/pulled/app:1`), fx.raw);
    assert.equal(proxy.stats.faultsInjected, 0);

    const layer = fx.layers![1];
    proxy.setSchedule({
      rules: [
        {
          match: blobGet(layer.digest, false),
          times: 1,
          fault: { kind: "reset-after", bytes: CUT },
        },
        { match: blobGet(layer.digest, false), times: 1, fault: { kind: "corrupt" } },
        { match: blobGet(layer.digest, true), times: 1, fault: { kind: "ignore-range" } },
      ],
    });
    const url = `${proxy.url}/v2/${REPO}/blobs/${layer.digest}`;
    const cut = await readAllBody(await fetch(url));
    assert.ok(cut.error, "a reset body errors on the client");
    assert.equal(cut.bytes.byteLength, CUT);

    const bad = await readAllBody(await fetch(url));
    assert.equal(bad.error, undefined);
    assert.equal(bad.bytes.byteLength, layer.size, "corruption keeps the length");
    assert.notEqual(sha256Digest(bad.bytes), layer.digest);

    const whole = await fetch(url, { headers: { range: "bytes=1000-" } });
    assert.equal(whole.status, 200, "the Range header was dropped");
    assert.equal(sha256Digest((await readAllBody(whole)).bytes), layer.digest);

    assert.deepEqual(proxy.stats.byKind, { "reset-after": 1, corrupt: 1, "ignore-range": 1 });
  });
});

Deno.test("CLI: a blob download reset mid-stream resumes with Range", async () => {
  await withFaults((fx) => ({
    rules: [{
      match: blobGet(fx.layers![0].digest),
      times: 1,
      fault: { kind: "reset-after", bytes: CUT },
    }],
  }), async (env) => {
    await dtoolOk(["copy", "-q", `docker://${env.srcRef}`, `docker://${env.dst.host}/reset/app:1`]);
    assert.equal(env.proxy.stats.byKind["reset-after"], 1);
    const gets = blobGets(env.proxy, env.layer);
    assert.equal(gets.length, 2, "one cut download and one resume");
    assert.equal(gets[1].status, 206);
    const from = rangeStart(gets[1].range);
    assert.ok(from > 0 && from <= CUT, `resumed from ${from}`);
    await assertCopied(env, "reset/app:1");
  });
});

Deno.test("CLI: 503 on the manifest and on a blob are retried", async () => {
  await withFaults((fx) => ({
    rules: [
      { match: manifestRequest("GET"), times: 1, fault: { kind: "status", status: 503 } },
      {
        match: blobGet(fx.layers![0].digest),
        times: 1,
        fault: { kind: "status", status: 503 },
      },
    ],
  }), async (env) => {
    await dtoolOk(["copy", "-q", `docker://${env.srcRef}`, `docker://${env.dst.host}/s503/app:1`]);
    assert.equal(env.proxy.stats.byKind.status, 2);
    assert.deepEqual(blobGets(env.proxy, env.layer).map((e) => e.status), [503, 200]);
    await assertCopied(env, "s503/app:1");
  });
});

for (const status of [500, 502, 503]) {
  Deno.test(`library: HTTP ${status} on manifests and every blob is retried`, async () => {
    await withFaults((fx) => ({
      rules: [
        // The source root is read with one GET (no HEAD): fail it twice.
        { match: manifestRequest("GET"), times: 2, fault: { kind: "status", status } },
        ...[fx.config!.digest, ...fx.layers!.map((l) => l.digest)].map((d) => ({
          match: blobGet(d),
          times: 1,
          fault: { kind: "status" as const, status },
        })),
      ],
    }), async (env) => {
      const { result } = await libCopy(env, `s${status}/app:1`);
      assert.equal(result.digest, env.fx.digest);
      assert.equal(env.proxy.stats.byKind.status, 6);
      for (const l of env.fx.layers!) {
        assert.deepEqual(blobGets(env.proxy, l.digest).map((e) => e.status), [status, 200]);
      }
      await assertCopied(env, `s${status}/app:1`);
    });
  });
}

Deno.test("library: 429 with Retry-After: 1 is retried after a second", async () => {
  await withFaults((fx) => ({
    rules: [{
      match: blobGet(fx.layers![0].digest),
      times: 1,
      fault: { kind: "retry-after", seconds: 1 },
    }],
  }), async (env) => {
    await libCopy(env, "r429/app:1");
    const [limited, retried] = blobGets(env.proxy, env.layer);
    assert.equal(limited.status, 429);
    assert.equal(retried?.status, 200);
    // retryDelayMs is 50, so only Retry-After can account for a wait of a second.
    const waited = retried.receivedAt - limited.answeredAt;
    assert.ok(waited >= 950, `waited ${Math.round(waited)} ms after the 429`);
    await assertCopied(env, "r429/app:1");
  });
});

Deno.test("library: a body stalled longer than the read timeout is resumed", async () => {
  const stallMs = 20_000;
  await withFaults((fx) => ({
    rules: [{
      match: blobGet(fx.layers![0].digest),
      times: 1,
      fault: { kind: "stall", bytes: 64 * 1024, ms: stallMs },
    }],
  }), async (env) => {
    const started = performance.now();
    await libCopy(env, "stall/app:1");
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 8000, `copy took ${Math.round(elapsed)} ms: it waited the stall out`);
    const gets = blobGets(env.proxy, env.layer);
    assert.equal(gets.length, 2, "the stalled download and its resume");
    assert.equal(gets[1].status, 206);
    assert.equal(rangeStart(gets[1].range), 64 * 1024);
    await assertCopied(env, "stall/app:1");
  });
});

Deno.test("library: corrupted blob bytes are fetched again and never stored", async () => {
  await withFaults((fx) => ({
    rules: [fx.config!.digest, ...fx.layers!.map((l) => l.digest)].map((d) => ({
      match: blobGet(d),
      times: 1,
      fault: { kind: "corrupt" as const },
    })),
  }), async (env) => {
    const { result, events } = await libCopy(env, "corrupt/app:1");
    assert.equal(env.proxy.stats.byKind.corrupt, 4);
    assert.ok(result.retries >= 1, `retries ${result.retries}`);
    const retried = new Set(events.flatMap((e) => e.type === "retry" ? [e.digest] : []));
    for (const l of env.fx.layers!) assert.ok(retried.has(l.digest), `retry of ${l.digest}`);
    await assertCopied(env, "corrupt/app:1");
    // skopeo can read every blob back out of the destination.
    await skopeo([
      "copy",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      `docker://${env.dst.host}/corrupt/app:1`,
      `docker://${env.dst.host}/third/app:1`,
    ]);
    assert.deepEqual(await skopeoInspectRaw(`${env.dst.host}/third/app:1`), env.fx.raw);
  });
});

Deno.test("library: a resume answered 200 (Range ignored) restarts from 0, even cut again", async () => {
  await withFaults((fx) => {
    const layer = fx.layers![0].digest;
    return {
      rules: [
        { match: blobGet(layer, false), times: 1, fault: { kind: "reset-after", bytes: CUT } },
        {
          match: blobGet(layer, true),
          times: 1,
          fault: [{ kind: "ignore-range" }, { kind: "reset-after", bytes: CUT + 50_000 }],
        },
        { match: blobGet(layer, true), times: 1, fault: { kind: "ignore-range" } },
      ],
    };
  }, async (env) => {
    const { result } = await libCopy(env, "norange/app:1");
    assert.equal(result.digest, env.fx.digest);
    const gets = blobGets(env.proxy, env.layer);
    assert.equal(gets.length, 3);
    assert.deepEqual(gets.map((e) => e.status), [200, 200, 200]);
    assert.ok(rangeStart(gets[1].range) > 0);
    assert.ok(rangeStart(gets[2].range) >= rangeStart(gets[1].range));
    assert.equal(env.proxy.stats.byKind["ignore-range"], 2);
    await assertCopied(env, "norange/app:1");
  });
});

Deno.test("library: a blob that always answers 503 fails the copy, and no tag is written", async () => {
  await withFaults((fx) => ({
    rules: [{ match: blobGet(fx.layers![0].digest), fault: { kind: "status", status: 503 } }],
  }), async (env) => {
    const err = await libCopy(env, "down/app:1").then(
      () => assert.fail("the copy succeeded"),
      (e: Error) => e,
    );
    assert.doesNotMatch(err.message, /\n/, "one line");
    assert.ok(err.message.includes(env.layer), `names the blob: ${err.message}`);
    assert.match(err.message, /503/);
    // The HTTP layer's retries (1 + 3) and no second round on top of them.
    assert.equal(blobGets(env.proxy, env.layer).length, 4);
    assert.equal(await readable(`${env.dst.host}/down/app:1`), false);
    assert.equal(await readable(`${env.dst.host}/down/app@${env.fx.digest}`), false);
  });
});

Deno.test("library: a blob that is always corrupt fails the copy, and the old tag stays", async () => {
  await withFaults((fx) => ({
    rules: [{ match: blobGet(fx.layers![0].digest), fault: { kind: "corrupt" } }],
  }), async (env) => {
    const old = await pushOciImage(env.dst, "keep/app:1", { layers: 1 });
    const err = await libCopy(env, "keep/app:1").then(
      () => assert.fail("the copy succeeded"),
      (e: Error) => e,
    );
    assert.doesNotMatch(err.message, /\n/, "one line");
    assert.ok(err.message.includes(env.layer), `names the blob: ${err.message}`);
    assert.match(err.message, /mismatch/);
    assert.ok(env.proxy.stats.byKind.corrupt! >= 4, "fetched once and retried three times");
    assert.deepEqual(await skopeoInspectRaw(`${env.dst.host}/keep/app:1`), old.raw);
    assert.equal(await readable(`${env.dst.host}/keep/app@${env.fx.digest}`), false);
    const res = await registryFetch(env.dst, `/v2/keep/app/blobs/${env.layer}`);
    assert.equal(res.status, 404, "the corrupt blob was not stored");
  });
});

Deno.test("CLI: a blob that always answers 503 exits 1 with one line naming it", async () => {
  await withFaults((fx) => ({
    rules: [{ match: blobGet(fx.layers![0].digest), fault: { kind: "status", status: 503 } }],
  }), async (env) => {
    const old = await pushOciImage(env.dst, "cli-down/app:1", { layers: 1 });
    const r = await dtool([
      "copy",
      "-q",
      "--retry-times",
      "1",
      `docker://${env.srcRef}`,
      `docker://${env.dst.host}/cli-down/app:1`,
    ]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`^dtool: copy docker://${env.srcRef}: .*${env.layer}`));
    assert.deepEqual(await skopeoInspectRaw(`${env.dst.host}/cli-down/app:1`), old.raw);
  });
});

Deno.test({
  name: "library: a manifest corrupted once in transit is fetched again",
}, async () => {
  await withFaults(() => ({
    rules: [{ match: manifestRequest("GET"), times: 1, fault: { kind: "corrupt", at: 10 } }],
  }), async (env) => {
    await libCopy(env, "mcorrupt/app:1");
    assert.equal(env.proxy.stats.byKind.corrupt, 1);
    await assertCopied(env, "mcorrupt/app:1");
  });
});

Deno.test("library: a manifest download reset mid-body is fetched again", async () => {
  await withFaults(() => ({
    rules: [{
      match: manifestRequest("GET"),
      times: 1,
      fault: { kind: "reset-after", bytes: 100 },
    }],
  }), async (env) => {
    await libCopy(env, "mreset/app:1");
    assert.equal(env.proxy.stats.byKind["reset-after"], 1);
    // Manifests are small: a cut one is read again whole (the copy engine's retry).
    const gets = env.proxy.log.filter((e) => e.method === "GET" && /\/manifests\//.test(e.path));
    assert.deepEqual(gets.map((e) => [e.range, e.status]), [[null, 200], [null, 200]]);
    await assertCopied(env, "mreset/app:1");
  });
});

Deno.test("library: response headers held back longer than the read timeout are retried", async () => {
  const stallMs = 20_000;
  await withFaults((fx) => ({
    rules: [{
      match: blobGet(fx.layers![0].digest),
      times: 1,
      fault: { kind: "stall-headers", ms: stallMs },
    }],
  }), async (env) => {
    const started = performance.now();
    await libCopy(env, "hstall/app:1");
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 8000, `copy took ${Math.round(elapsed)} ms: it waited the stall out`);
    await assertCopied(env, "hstall/app:1");
  });
});

Deno.test("library: a blob whose download always breaks off fails the copy, and the old tag stays", async () => {
  // Every response is cut after 10 kB: the fetcher's resumes cannot reach the end.
  await withFaults((fx) => ({
    rules: [{
      match: blobGet(fx.layers![0].digest),
      fault: { kind: "reset-after", bytes: 10_000 },
    }],
  }), async (env) => {
    const old = await pushOciImage(env.dst, "cut/app:1", { layers: 1 });
    const err = await libCopy(env, "cut/app:1").then(
      () => assert.fail("the copy succeeded"),
      (e: Error) => e,
    );
    assert.doesNotMatch(err.message, /\n/, "one line");
    assert.ok(err.message.includes(env.layer), `names the blob: ${err.message}`);
    assert.deepEqual(await skopeoInspectRaw(`${env.dst.host}/cut/app:1`), old.raw);
    assert.equal(await readable(`${env.dst.host}/cut/app@${env.fx.digest}`), false);
  });
});

Deno.test({
  name: "library: a download that always breaks off is reported as the download's failure",
}, async () => {
  await withFaults((fx) => ({
    rules: [{
      match: blobGet(fx.layers![0].digest),
      fault: { kind: "reset-after", bytes: 10_000 },
    }],
  }), async (env) => {
    const err = await libCopy(env, "cutwhy/app:1").then(
      () => assert.fail("the copy succeeded"),
      (e: Error) => e,
    );
    assert.ok(err.message.includes(env.layer), `names the blob: ${err.message}`);
    assert.match(err.message, /download/, err.message);
    assert.doesNotMatch(err.message, /: fetch failed$/);
  });
});

Deno.test("408 and 504 are retried; a 401 gets one fresh authorization", async () => {
  for (const status of [408, 504, 401]) {
    await withFaults((fx) => ({
      rules: [{
        match: blobGet(fx.layers![0].digest),
        times: 1,
        fault: { kind: "status", status },
      }],
    }), async (env) => {
      const { result } = await libCopy(env, `s${status}/app:1`);
      assert.equal(result.digest, env.fx.digest);
      assert.equal(result.retries, 0, "retried by the HTTP layer, not the blob loop");
      assert.deepEqual(blobGets(env.proxy, env.layer).map((e) => e.status), [status, 200]);
      await assertCopied(env, `s${status}/app:1`);
    });
  }
});

Deno.test("403 and 404 are final: one request, exit 3 and 4, no tag", async () => {
  for (const [status, code] of [[403, 3], [404, 4]] as const) {
    await withFaults((fx) => ({
      rules: [{ match: blobGet(fx.layers![0].digest), fault: { kind: "status", status } }],
    }), async (env) => {
      const r = await dtool([
        "copy",
        `docker://${env.srcRef}`,
        `docker://${env.dst.host}/final${status}/app:1`,
      ]);
      assert.equal(r.code, code, r.stderr);
      assert.equal(blobGets(env.proxy, env.layer).length, 1, "not retried");
      assert.equal(await readable(`${env.dst.host}/final${status}/app:1`), false);
    });
  }
});

Deno.test("CLI: --retry-delay is a fixed wait, and --debug counts every request", async () => {
  await withFaults((fx) => ({
    rules: [{
      match: blobGet(fx.layers![0].digest),
      times: 1,
      fault: { kind: "status", status: 503 },
    }],
  }), async (env) => {
    const r = await dtoolOk([
      "copy",
      "--debug",
      "--retry-delay",
      "1s",
      `docker://${env.srcRef}`,
      `docker://${env.dst.host}/delay/app:1`,
    ]);
    const gets = blobGets(env.proxy, env.layer);
    assert.deepEqual(gets.map((e) => e.status), [503, 200]);
    const waited = gets[1].receivedAt - gets[0].answeredAt;
    // A fixed delay, as skopeo's: the full second, no jitter below it.
    assert.ok(waited >= 950 && waited < 3000, `waited ${Math.round(waited)} ms`);
    const lines = r.stderr.trim().split("\n");
    const traced = lines.filter((l) => /^dtool: debug: (GET|HEAD|PUT|POST|PATCH|DELETE) /.test(l));
    const total = Number(/^dtool: debug: (\d+) HTTP requests/.exec(lines.at(-1)!)?.[1]);
    assert.equal(total, traced.length, lines.at(-1));
    await assertCopied(env, "delay/app:1");
  });
});

Deno.test("CLI: off a terminal, a total line at least every 5 s of a long copy", async () => {
  await withFaults((fx) => ({
    rules: [{
      match: blobGet(fx.layers![0].digest),
      times: 1,
      fault: { kind: "stall", ms: 5_600, bytes: 50_000 },
    }],
  }), async (env) => {
    const r = await dtoolOk([
      "copy",
      "--progress=plain",
      `docker://${env.srcRef}`,
      `docker://${env.dst.host}/slow/app:1`,
    ]);
    const totals = r.stderr.split("\n").filter((l) => l.startsWith("Progress: "));
    assert.ok(totals.length >= 1, r.stderr);
    assert.match(totals[0], /^Progress: \d+\/4 blobs, /);
  });
});

Deno.test("a manifest PUT answered 'blob unknown' while the registry links a blob is asked again", async () => {
  // distribution 2.8 answers MANIFEST_BLOB_UNKNOWN now and then when another client pushes the
  // same blob into the repository at the same moment; the proxy makes it happen on demand.
  const src = await startRegistry();
  const dst = await startRegistry();
  const proxy = await startFaultProxy(dst.url, {
    rules: [{
      match: manifestRequest("PUT"),
      times: 2,
      fault: { kind: "status", status: 400, code: "MANIFEST_BLOB_UNKNOWN" },
    }],
  });
  try {
    const fx = await pushOciImage(src, `${REPO}:1`, { layers: 1, layerSize: 1024 });
    await dtoolOk(["copy", "-q", `docker://${fx.ref}`, `docker://${proxy.host}/${REPO}:1`]);
    const puts = proxy.log.filter((e) => e.method === "PUT" && /\/manifests\//.test(e.path));
    assert.deepEqual(puts.map((e) => e.status), [400, 400, 201]);
    assert.deepEqual(await skopeoInspectRaw(`${dst.host}/${REPO}:1`), fx.raw);

    // Another error code is final: one PUT, the copy fails, the tag is not written.
    proxy.setSchedule({
      rules: [{
        match: manifestRequest("PUT"),
        fault: { kind: "status", status: 400, code: "MANIFEST_INVALID" },
      }],
    });
    const r = await dtool(["copy", "-q", `docker://${fx.ref}`, `docker://${proxy.host}/${REPO}:2`]);
    assert.equal(r.code, 1, r.stderr);
    const after = proxy.log.filter((e) => e.method === "PUT" && /\/manifests\/2$/.test(e.path));
    assert.equal(after.length, 1);
  } finally {
    await proxy.stop();
    await src.stop();
    await dst.stop();
  }
});
