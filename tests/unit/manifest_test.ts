import assert from "node:assert/strict";
import { computeDigest } from "../../lib/digest.ts";
import { ExitCode, InvalidManifestError } from "../../lib/errors.ts";
import { MAX_MANIFEST_BYTES, parseManifest } from "../../lib/manifest.ts";
import { MediaType } from "../../lib/media_types.ts";

const enc = new TextEncoder();
const D1 = "sha256:" + "1".repeat(64);
const D2 = "sha256:" + "2".repeat(64);
const D3 = "sha256:" + "3".repeat(64);

function ociManifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: D1, size: 100 },
    layers: [
      { mediaType: MediaType.OciLayerGzip, digest: D2, size: 2000 },
      { mediaType: MediaType.OciLayerZstd, digest: D3, size: 0 },
    ],
    ...extra,
  };
}

function dockerManifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: { mediaType: MediaType.DockerConfig, digest: D1, size: 1469 },
    layers: [{ mediaType: MediaType.DockerLayerGzip, digest: D2, size: 977 }],
    ...extra,
  };
}

function index(mediaType: string | undefined, extra: Record<string, unknown> = {}) {
  return {
    schemaVersion: 2,
    ...(mediaType ? { mediaType } : {}),
    manifests: [
      {
        mediaType: mediaType === MediaType.DockerManifestList
          ? MediaType.DockerManifest
          : MediaType.OciManifest,
        digest: D1,
        size: 500,
        platform: { architecture: "amd64", os: "linux" },
      },
      {
        mediaType: MediaType.OciManifest,
        digest: D2,
        size: 501,
        platform: { architecture: "arm64", os: "linux", variant: "v8" },
      },
    ],
    ...extra,
  };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function bytes(doc: unknown, indent?: number): Uint8Array {
  return enc.encode(JSON.stringify(doc, null, indent));
}

function assertInvalid(raw: Uint8Array, contentType: string | undefined, message: RegExp): void {
  assert.throws(() => parseManifest(raw, contentType), (err: unknown) => {
    assert.ok(err instanceof InvalidManifestError, String(err));
    assert.equal(err.exitCode, ExitCode.Failure);
    assert.match(err.message, message);
    return true;
  });
}

Deno.test("parseManifest reads an OCI image manifest", () => {
  const doc = ociManifest();
  const m = parseManifest(bytes(doc), MediaType.OciManifest);
  assert.equal(m.kind, "manifest");
  assert.equal(m.mediaType, MediaType.OciManifest);
  if (m.kind !== "manifest") return;
  assert.equal(m.manifest.config.digest, D1);
  assert.equal(m.manifest.config.size, 100);
  assert.deepEqual(m.manifest.layers.map((l) => l.digest), [D2, D3]);
});

Deno.test("parseManifest reads an OCI index with its platforms", () => {
  const m = parseManifest(bytes(index(MediaType.OciIndex)), MediaType.OciIndex);
  assert.equal(m.kind, "index");
  assert.equal(m.mediaType, MediaType.OciIndex);
  if (m.kind !== "index") return;
  assert.equal(m.index.manifests.length, 2);
  assert.deepEqual(m.index.manifests[1].platform, {
    architecture: "arm64",
    os: "linux",
    variant: "v8",
  });
});

Deno.test("parseManifest reads a Docker schema 2 manifest", () => {
  const m = parseManifest(bytes(dockerManifest()), MediaType.DockerManifest);
  assert.equal(m.kind, "manifest");
  assert.equal(m.mediaType, MediaType.DockerManifest);
  if (m.kind === "manifest") assert.equal(m.manifest.config.mediaType, MediaType.DockerConfig);
});

Deno.test("parseManifest reads a Docker manifest list as an index", () => {
  const m = parseManifest(bytes(index(MediaType.DockerManifestList)), MediaType.DockerManifestList);
  assert.equal(m.kind, "index");
  assert.equal(m.mediaType, MediaType.DockerManifestList);
});

Deno.test("parseManifest accepts an empty index", () => {
  const m = parseManifest(
    bytes({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }),
  );
  assert.equal(m.kind, "index");
});

Deno.test("parseManifest accepts a manifest with no layers", () => {
  const m = parseManifest(bytes(ociManifest({ layers: [] })));
  assert.equal(m.kind, "manifest");
});

Deno.test("parseManifest keeps the raw bytes identical and digests them with sha256", () => {
  // Odd whitespace and key order must survive: copies push these exact bytes.
  const text = '{ "layers" : [],\n\t"config":{"size":100,"digest":"' + D1 +
    '","mediaType":"' + MediaType.OciConfig + '"},  "schemaVersion":2 ,"mediaType":"' +
    MediaType.OciManifest + '"}\n';
  const raw = enc.encode(text);
  const m = parseManifest(raw);
  assert.deepEqual(m.raw, raw);
  assert.equal(new TextDecoder().decode(m.raw), text);
  assert.equal(m.digest, computeDigest(raw));
  assert.notEqual(m.digest, computeDigest(bytes(JSON.parse(text))));
});

Deno.test("parseManifest digest differs for documents differing only in whitespace", () => {
  const a = parseManifest(bytes(ociManifest()));
  const b = parseManifest(bytes(ociManifest(), 2));
  assert.notEqual(a.digest, b.digest);
  assert.equal(a.digest, computeDigest(bytes(ociManifest())));
  assert.equal(b.digest, computeDigest(bytes(ociManifest(), 2)));
});

Deno.test("parseManifest takes the media type from the document when there is no Content-Type", () => {
  assert.equal(parseManifest(bytes(dockerManifest())).mediaType, MediaType.DockerManifest);
  assert.equal(
    parseManifest(bytes(index(MediaType.DockerManifestList))).mediaType,
    MediaType.DockerManifestList,
  );
});

Deno.test("parseManifest takes the media type from Content-Type when the document has none", () => {
  const { mediaType: _, ...doc } = dockerManifest();
  const m = parseManifest(bytes(doc), MediaType.DockerManifest);
  assert.equal(m.mediaType, MediaType.DockerManifest);
  const list = parseManifest(bytes(index(undefined)), MediaType.DockerManifestList);
  assert.equal(list.kind, "index");
  assert.equal(list.mediaType, MediaType.DockerManifestList);
});

Deno.test("parseManifest ignores Content-Type parameters and case", () => {
  const m = parseManifest(
    bytes(ociManifest()),
    "Application/VND.OCI.Image.Manifest.v1+JSON; charset=utf-8",
  );
  assert.equal(m.mediaType, MediaType.OciManifest);
});

Deno.test("parseManifest refuses a document whose mediaType disagrees with Content-Type", () => {
  assertInvalid(
    bytes(ociManifest()),
    MediaType.DockerManifest,
    new RegExp(
      `^mediaType ${escape(MediaType.OciManifest)} disagrees with Content-Type ${
        escape(MediaType.DockerManifest)
      }$`,
    ),
  );
  assertInvalid(
    bytes(index(MediaType.OciIndex)),
    MediaType.DockerManifestList,
    /disagrees with Content-Type/,
  );
  assertInvalid(bytes(index(MediaType.OciIndex)), MediaType.OciManifest, /disagrees/);
});

Deno.test("parseManifest accepts generic Content-Types and uses the document's media type", () => {
  for (
    const ct of [
      "application/json",
      "application/json; charset=utf-8",
      "application/octet-stream",
      "text/plain",
      "",
    ]
  ) {
    const m = parseManifest(bytes(dockerManifest()), ct);
    assert.equal(m.mediaType, MediaType.DockerManifest, ct);
    const i = parseManifest(bytes(index(MediaType.OciIndex)), ct);
    assert.equal(i.kind, "index", ct);
  }
});

Deno.test("parseManifest guesses an OCI index for a document with manifests and no media type", () => {
  const m = parseManifest(bytes(index(undefined)), "application/json");
  assert.equal(m.kind, "index");
  assert.equal(m.mediaType, MediaType.OciIndex);
});

Deno.test("parseManifest guesses a Docker manifest from a Docker config media type", () => {
  const { mediaType: _, ...doc } = dockerManifest();
  const m = parseManifest(bytes(doc));
  assert.equal(m.kind, "manifest");
  assert.equal(m.mediaType, MediaType.DockerManifest);
});

Deno.test("parseManifest guesses an OCI manifest otherwise", () => {
  const { mediaType: _, ...doc } = ociManifest();
  const m = parseManifest(bytes(doc), "application/json");
  assert.equal(m.kind, "manifest");
  assert.equal(m.mediaType, MediaType.OciManifest);
});

Deno.test("parseManifest refuses bytes that are not JSON", () => {
  assertInvalid(enc.encode("{not json"), MediaType.OciManifest, /not valid JSON/);
  assertInvalid(new Uint8Array(), undefined, /not valid JSON/);
  assertInvalid(new Uint8Array([0xff, 0xfe, 0x00]), undefined, /not valid JSON/);
});

Deno.test("parseManifest refuses JSON that is not an object", () => {
  for (const text of ["[]", "null", "2", '"x"', "true"]) {
    assertInvalid(enc.encode(text), undefined, /not a JSON object/);
  }
});

Deno.test("parseManifest refuses schemaVersion 1 as not supported", () => {
  assertInvalid(
    bytes({ schemaVersion: 1, name: "library/x", tag: "1", fsLayers: [], history: [] }),
    undefined,
    /schema 1 .*not supported/,
  );
});

Deno.test("parseManifest refuses schema 1 Content-Types as not supported, before parsing", () => {
  for (const ct of [MediaType.DockerSchema1, MediaType.DockerSchema1Signed]) {
    assertInvalid(enc.encode("this is a JWS, not plain JSON"), ct, /not supported/);
    assertInvalid(bytes({ schemaVersion: 1 }), `${ct}; charset=utf-8`, /not supported/);
  }
});

Deno.test("parseManifest refuses a document declaring a schema 1 media type", () => {
  assertInvalid(
    bytes(ociManifest({ mediaType: MediaType.DockerSchema1Signed })),
    "application/json",
    /not supported/,
  );
});

Deno.test("parseManifest refuses schemaVersion 3 and a missing schemaVersion", () => {
  assertInvalid(bytes(ociManifest({ schemaVersion: 3 })), undefined, /unsupported schemaVersion 3/);
  assertInvalid(bytes(ociManifest({ schemaVersion: "2" })), undefined, /unsupported schemaVersion/);
  const { schemaVersion: _, ...doc } = ociManifest();
  assertInvalid(bytes(doc), undefined, /unsupported schemaVersion/);
});

Deno.test("parseManifest refuses a non-string mediaType", () => {
  assertInvalid(bytes(ociManifest({ mediaType: 2 })), undefined, /mediaType is not a string/);
});

Deno.test("parseManifest refuses an unknown media type", () => {
  assertInvalid(
    bytes(ociManifest({ mediaType: MediaType.OciConfig })),
    undefined,
    /unsupported manifest media type/,
  );
  const { mediaType: _, ...doc } = ociManifest();
  assertInvalid(bytes(doc), "application/vnd.example+json", /unsupported manifest media type/);
});

Deno.test("parseManifest refuses a manifest with no config", () => {
  const { config: _, ...doc } = ociManifest();
  assertInvalid(bytes(doc), undefined, /no config/);
  assertInvalid(bytes(ociManifest({ config: null })), undefined, /config is not an object/);
  assertInvalid(bytes(ociManifest({ config: [] })), undefined, /config is not an object/);
});

Deno.test("parseManifest refuses a manifest with no layers list", () => {
  const { layers: _, ...doc } = ociManifest();
  assertInvalid(bytes(doc), undefined, /no layers list/);
  assertInvalid(bytes(ociManifest({ layers: {} })), undefined, /no layers list/);
});

Deno.test("parseManifest refuses an index with no manifests list", () => {
  const { manifests: _, ...doc } = index(MediaType.OciIndex);
  assertInvalid(bytes(doc), undefined, /no manifests list/);
  assertInvalid(
    bytes(index(MediaType.DockerManifestList, { manifests: "x" })),
    undefined,
    /no manifests list/,
  );
});

Deno.test("parseManifest refuses an invalid digest in config, layers or manifests", () => {
  const bad = "sha256:abc";
  assertInvalid(
    bytes(ociManifest({ config: { mediaType: MediaType.OciConfig, digest: bad, size: 1 } })),
    undefined,
    /config has an invalid digest "sha256:abc"/,
  );
  assertInvalid(
    bytes(
      ociManifest({
        layers: [{ mediaType: MediaType.OciLayer, digest: D1.toUpperCase(), size: 1 }],
      }),
    ),
    undefined,
    /layers\[0\] has an invalid digest/,
  );
  const i = index(MediaType.OciIndex);
  i.manifests[1].digest = "md5:d41d8cd98f00b204e9800998ecf8427e";
  assertInvalid(bytes(i), undefined, /manifests\[1\] has an invalid digest/);
  assertInvalid(
    bytes(ociManifest({ config: { mediaType: MediaType.OciConfig, size: 1 } })),
    undefined,
    /config has an invalid digest/,
  );
});

Deno.test("parseManifest refuses a negative, fractional, missing or string size", () => {
  for (const size of [-1, 1.5, "10", null, 2 ** 53]) {
    assertInvalid(
      bytes(ociManifest({ layers: [{ mediaType: MediaType.OciLayer, digest: D2, size }] })),
      undefined,
      /layers\[0\] has an invalid size/,
    );
  }
  assertInvalid(
    bytes(ociManifest({ config: { mediaType: MediaType.OciConfig, digest: D1 } })),
    undefined,
    /config has an invalid size/,
  );
  const i = index(MediaType.OciIndex);
  i.manifests[0].size = -5;
  assertInvalid(bytes(i), undefined, /manifests\[0\] has an invalid size -5/);
});

Deno.test("parseManifest refuses a descriptor with no mediaType", () => {
  assertInvalid(
    bytes(ociManifest({ layers: [{ digest: D2, size: 1 }] })),
    undefined,
    /layers\[0\] has no mediaType/,
  );
  assertInvalid(
    bytes(ociManifest({ layers: [null] })),
    undefined,
    /layers\[0\] is not an object/,
  );
});

Deno.test("parseManifest accepts exactly 4 MiB and refuses one byte more", () => {
  assert.equal(MAX_MANIFEST_BYTES, 4 * 1024 * 1024);
  const base = bytes(ociManifest());
  const exact = new Uint8Array(MAX_MANIFEST_BYTES).fill(0x20); // JSON whitespace padding
  exact.set(base);
  assert.equal(parseManifest(exact).kind, "manifest");
  const over = new Uint8Array(MAX_MANIFEST_BYTES + 1).fill(0x20);
  over.set(base);
  assertInvalid(over, MediaType.OciManifest, /larger than the 4194304 allowed/);
});
