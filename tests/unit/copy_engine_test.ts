/**
 * The copy engine on the in-memory transport: what it plans, the order it
 * writes in (blobs, then children, then the tagged root), platform choice,
 * retries, the worker pool's limit, mounts, and aborts.
 */
import assert from "node:assert/strict";
import {
  computeDigest,
  copyImage,
  type Descriptor,
  DigestMismatchError,
  type Fetcher,
  MemoryFetcher,
  MemoryResolver,
  type MemoryStore,
  memoryStore,
  NotFoundError,
  type ProgressEvent,
  type Pusher,
  type PushOptions,
  type Resolver,
} from "../../mod.ts";

const enc = new TextEncoder();
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

function put(store: MemoryStore, bytes: Uint8Array, mediaType?: string): Descriptor {
  const digest = computeDigest(bytes);
  store.content.set(digest, bytes);
  if (mediaType) store.mediaTypes.set(digest, mediaType);
  return { mediaType: mediaType ?? "application/octet-stream", digest, size: bytes.byteLength };
}

/** An image with `layers` distinct layers (plus one shared by every image of the store). */
function image(store: MemoryStore, platform: string, layers = 2): Descriptor {
  const [os, architecture, variant] = platform.split("/");
  const config = put(
    store,
    enc.encode(JSON.stringify({ os, architecture, variant, rootfs: { type: "layers" } })),
  );
  config.mediaType = "application/vnd.oci.image.config.v1+json";
  const ls = Array.from({ length: layers }, (_, i) => {
    const d = put(store, enc.encode(`${platform} layer ${i}`));
    d.mediaType = "application/vnd.oci.image.layer.v1.tar+gzip";
    return d;
  });
  const shared = put(store, enc.encode("shared base layer"));
  shared.mediaType = "application/vnd.oci.image.layer.v1.tar+gzip";
  const manifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [shared, ...ls] };
  const d = put(store, enc.encode(JSON.stringify(manifest)), OCI_MANIFEST);
  d.platform = variant ? { os, architecture, variant } : { os, architecture };
  return d;
}

function index(store: MemoryStore, platforms: string[]): Descriptor {
  const manifests = platforms.map((p) => image(store, p));
  return put(
    store,
    enc.encode(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests })),
    OCI_INDEX,
  );
}

/** Wraps a resolver to record writes in order and count fetches in flight. */
function recorded(inner: Resolver) {
  const log: string[] = [];
  const stats = { inFlight: 0, maxInFlight: 0, fetches: 0 };
  let failNext: ((d: Descriptor) => Uint8Array | undefined) | undefined;
  const resolver: Resolver = {
    resolve: (ref) => inner.resolve(ref),
    async fetcher(ref) {
      const f = await inner.fetcher(ref);
      return {
        async fetch(desc, opts) {
          stats.fetches++;
          stats.inFlight++;
          stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
          try {
            await new Promise((r) => setTimeout(r, 5));
            const wrong = failNext?.(desc);
            if (!wrong) return await f.fetch(desc, opts);
            // A source whose stored bytes are not what the digest says: its stream errors.
            const liar = memoryStore();
            liar.content.set(desc.digest, wrong);
            return await new MemoryFetcher(liar).fetch(desc, opts);
          } finally {
            stats.inFlight--;
          }
        },
      } satisfies Fetcher;
    },
    async pusher(ref) {
      const p = await inner.pusher(ref);
      const pusher: Pusher = {
        exists: (d, o) => p.exists(d, o),
        async push(desc, opts) {
          const w = await p.push(desc, opts);
          return {
            writable: w.writable,
            commit: async () => {
              await w.commit();
              log.push(opts?.tag ? `${desc.digest} as ${opts.tag}` : desc.digest);
            },
          };
        },
      };
      return pusher;
    },
  };
  return { resolver, log, stats, failWith: (f: typeof failNext) => (failNext = f) };
}

const host = Deno.build.arch === "aarch64" ? "linux/arm64/v8" : "linux/amd64";

Deno.test("a single image: every blob before the manifest, the tag written once, last", async () => {
  const src = memoryStore();
  const root = image(src, "linux/amd64", 3);
  src.tags.set("1", root.digest);
  const dst = recorded(new MemoryResolver());
  const r = await copyImage(
    { resolver: new MemoryResolver(src), ref: "1" },
    { resolver: dst.resolver, ref: "v1", tag: "v1" },
  );
  assert.equal(r.digest, root.digest);
  assert.equal(r.transferred, 5); // config, shared layer, three layers
  assert.equal(dst.log.at(-1), `${root.digest} as v1`);
  assert.equal(dst.log.filter((l) => l.includes(" as ")).length, 1);
});

Deno.test("--all: children by digest before the index, which alone is tagged", async () => {
  const src = memoryStore();
  const root = index(src, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
  src.tags.set("1", root.digest);
  const out = new MemoryResolver();
  const dst = recorded(out);
  const r = await copyImage(
    { resolver: new MemoryResolver(src), ref: "1" },
    { resolver: dst.resolver, ref: "1", tag: "1" },
    { all: true },
  );
  assert.equal(r.digest, root.digest);
  assert.equal(r.transferred, 1 + 3 * 3, "the shared layer moves once");
  const children = JSON.parse(new TextDecoder().decode(src.content.get(root.digest)!)).manifests
    .map((d: Descriptor) => d.digest);
  const at = (d: string) => dst.log.indexOf(d);
  for (const c of children) assert.ok(at(c) >= 0 && at(c) < dst.log.length - 1);
  assert.equal(dst.log.at(-1), `${root.digest} as 1`);
  assert.deepEqual(out.store.content.get(root.digest), src.content.get(root.digest));
});

Deno.test("platforms: the host's by default, one named strictly, several make a new index", async () => {
  const src = memoryStore();
  const root = index(src, ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]);
  src.tags.set("1", root.digest);
  const from = { resolver: new MemoryResolver(src), ref: "1" };
  const manifests = JSON.parse(new TextDecoder().decode(src.content.get(root.digest)!))
    .manifests as Descriptor[];
  const digestOf = (p: string) =>
    manifests.find((d) =>
      `${d.platform!.os}/${d.platform!.architecture}${
        d.platform!.variant ? "/" + d.platform!.variant : ""
      }` === p
    )!.digest;

  const def = await copyImage(from, { resolver: new MemoryResolver(), ref: "x", tag: "x" });
  assert.equal(def.digest, digestOf(host));

  const one = await copyImage(from, { resolver: new MemoryResolver(), ref: "x", tag: "x" }, {
    platforms: [{ os: "linux", architecture: "arm", variant: "v7" }],
  });
  assert.equal(one.digest, digestOf("linux/arm/v7"));

  await assert.rejects(
    copyImage(from, { resolver: new MemoryResolver(), ref: "x", tag: "x" }, {
      platforms: [{ os: "linux", architecture: "s390x" }],
    }),
    /no image for platform linux\/s390x \(available: linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7\)/,
  );

  const events: ProgressEvent[] = [];
  const out = new MemoryResolver();
  const two = await copyImage(from, { resolver: out, ref: "x", tag: "x" }, {
    platforms: [{ os: "linux", architecture: "amd64" }, { os: "linux", architecture: "arm64" }],
    onProgress: (e) => events.push(e),
  });
  assert.equal(two.rewritten, true);
  assert.notEqual(two.digest, root.digest);
  const written = JSON.parse(new TextDecoder().decode(out.store.content.get(two.digest)!));
  assert.deepEqual(written.manifests.map((d: Descriptor) => d.digest), [
    digestOf("linux/amd64"),
    digestOf("linux/arm64/v8"),
  ]);
  assert.ok(events.some((e) => e.type === "warning" && e.message.includes("copying 2 of 3")));
});

Deno.test("a blob with wrong bytes is fetched again, and never stored", async () => {
  const src = memoryStore();
  const root = image(src, "linux/amd64", 1);
  src.tags.set("1", root.digest);
  const source = recorded(new MemoryResolver(src));
  let broken = 0;
  source.failWith((d) => {
    if (d.mediaType.includes("layer") && broken < 2) {
      broken++;
      return enc.encode("not the layer");
    }
  });
  const out = new MemoryResolver();
  const r = await copyImage({ resolver: source.resolver, ref: "1" }, {
    resolver: out,
    ref: "1",
    tag: "1",
  }, { retryDelayMs: 1 });
  assert.equal(r.retries, 2);
  for (const [digest, bytes] of out.store.content) assert.equal(computeDigest(bytes), digest);
});

Deno.test("wrong bytes every time: the copy fails and the tag never moves", async () => {
  const src = memoryStore();
  const root = image(src, "linux/amd64", 1);
  src.tags.set("1", root.digest);
  const source = recorded(new MemoryResolver(src));
  source.failWith((d) => d.mediaType.includes("layer") ? enc.encode("garbage") : undefined);
  const out = new MemoryResolver();
  await assert.rejects(
    copyImage({ resolver: source.resolver, ref: "1" }, { resolver: out, ref: "1", tag: "1" }, {
      retryTimes: 2,
      retryDelayMs: 1,
    }),
    /mismatch for sha256:[0-9a-f]{64}/,
  );
  assert.equal(out.store.tags.size, 0);
});

Deno.test("--jobs bounds the blobs in flight", async () => {
  const src = memoryStore();
  const root = image(src, "linux/amd64", 20);
  src.tags.set("1", root.digest);
  for (const jobs of [1, 3]) {
    const source = recorded(new MemoryResolver(src));
    await copyImage({ resolver: source.resolver, ref: "1" }, {
      resolver: new MemoryResolver(),
      ref: "1",
      tag: "1",
    }, { jobs });
    assert.equal(source.stats.maxInFlight, jobs);
  }
});

Deno.test("an up-to-date destination costs nothing; blobs it has are skipped", async () => {
  const src = memoryStore();
  const root = image(src, "linux/amd64", 2);
  src.tags.set("1", root.digest);
  const out = new MemoryResolver();
  await copyImage({ resolver: new MemoryResolver(src), ref: "1" }, {
    resolver: out,
    ref: "1",
    tag: "1",
  });
  const source = recorded(new MemoryResolver(src));
  const again = await copyImage({ resolver: source.resolver, ref: "1" }, {
    resolver: out,
    ref: "1",
    tag: "1",
  });
  assert.equal(again.upToDate, true);
  assert.equal(source.stats.fetches, 1, "the source root alone is read");
  const other = await copyImage({ resolver: source.resolver, ref: "1" }, {
    resolver: out,
    ref: "2",
    tag: "2",
  });
  assert.equal(other.skipped, 4);
  assert.equal(other.transferred, 0);
});

Deno.test("a pusher that can mount from the fetcher's store mounts instead of copying", async () => {
  const src = memoryStore();
  const root = image(src, "linux/amd64", 2);
  src.tags.set("1", root.digest);
  const source = recorded(new MemoryResolver(src));
  // A destination that has no blob, but can take each from where the source reads it.
  const out = new MemoryResolver();
  const mounted: string[] = [];
  const inner = await out.pusher();
  const dst: Resolver = {
    resolve: (ref) => out.resolve(ref),
    fetcher: (ref) => out.fetcher(ref),
    pusher: () =>
      Promise.resolve({
        exists: (d: Descriptor) => inner.exists(d),
        push: (d: Descriptor, o?: PushOptions) => inner.push(d, o),
        mount(d: Descriptor, from: Fetcher) {
          mounted.push(d.digest);
          out.store.content.set(d.digest, src.content.get(d.digest)!);
          return Promise.resolve(from !== undefined);
        },
      }),
  };
  const r = await copyImage({ resolver: source.resolver, ref: "1" }, {
    resolver: dst,
    ref: "2",
    tag: "2",
  });
  assert.equal(r.mounted, 4);
  assert.equal(r.transferred, 0);
  assert.equal(mounted.length, 4);
  assert.equal(source.stats.fetches, 1, "only the root manifest is read");
  assert.equal(out.store.tags.get("2"), root.digest);
});

Deno.test("an abort stops the copy before the tag moves", async () => {
  const src = memoryStore();
  const root = image(src, "linux/amd64", 30);
  src.tags.set("1", root.digest);
  const out = new MemoryResolver();
  const controller = new AbortController();
  let seen = 0;
  const p = copyImage({ resolver: new MemoryResolver(src), ref: "1" }, {
    resolver: out,
    ref: "1",
    tag: "1",
  }, {
    jobs: 2,
    signal: controller.signal,
    onProgress: (e) => {
      if (e.type === "blob-done" && ++seen === 3) controller.abort(new Error("stop"));
    },
  });
  await assert.rejects(p, /stop/);
  assert.equal(out.store.tags.size, 0);
  assert.ok(out.store.content.size < 32, "not every blob was copied");
});

Deno.test("errors keep their class through the engine", async () => {
  const src = memoryStore();
  await assert.rejects(
    copyImage({ resolver: new MemoryResolver(src), ref: "missing" }, {
      resolver: new MemoryResolver(),
      ref: "1",
      tag: "1",
    }),
    (e: Error) => e instanceof NotFoundError,
  );
  const root = image(src, "linux/amd64", 1);
  src.tags.set("1", root.digest);
  const source = recorded(new MemoryResolver(src));
  source.failWith((d) => d.mediaType.includes("layer") ? enc.encode("garbage") : undefined);
  await assert.rejects(
    copyImage({ resolver: source.resolver, ref: "1" }, {
      resolver: new MemoryResolver(),
      ref: "1",
      tag: "1",
    }, { retryTimes: 0 }),
    (e: Error) => e instanceof DigestMismatchError,
  );
});
