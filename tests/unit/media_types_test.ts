import assert from "node:assert/strict";
import {
  isConfigMediaType,
  isIndexMediaType,
  isLayerMediaType,
  isManifestMediaType,
  isNonDistributableMediaType,
  isSchema1MediaType,
  layerCompression,
  MANIFEST_ACCEPT,
  MediaType,
} from "../../lib/media_types.ts";

type Name = keyof typeof MediaType;

interface Expect {
  index: boolean;
  manifest: boolean;
  schema1: boolean;
  config: boolean;
  layer: boolean;
  nonDistributable: boolean;
  compression: "none" | "gzip" | "zstd";
}

const NONE: Expect = {
  index: false,
  manifest: false,
  schema1: false,
  config: false,
  layer: false,
  nonDistributable: false,
  compression: "none",
};
const layer = (compression: Expect["compression"], nonDistributable = false): Expect => ({
  ...NONE,
  layer: true,
  nonDistributable,
  compression,
});

/** What every classifier must say about every constant. */
const TABLE: Record<Name, Expect> = {
  OciManifest: { ...NONE, manifest: true },
  OciIndex: { ...NONE, index: true },
  OciConfig: { ...NONE, config: true },
  OciEmpty: NONE,
  OciLayer: layer("none"),
  OciLayerGzip: layer("gzip"),
  OciLayerZstd: layer("zstd"),
  OciLayerNonDistributable: layer("none", true),
  OciLayerNonDistributableGzip: layer("gzip", true),
  OciLayerNonDistributableZstd: layer("zstd", true),
  DockerManifest: { ...NONE, manifest: true },
  DockerManifestList: { ...NONE, index: true },
  DockerConfig: { ...NONE, config: true },
  DockerLayer: layer("none"),
  DockerLayerGzip: layer("gzip"),
  DockerLayerZstd: layer("zstd"),
  DockerForeignLayer: layer("gzip", true),
  DockerSchema1: { ...NONE, schema1: true },
  DockerSchema1Signed: { ...NONE, schema1: true },
};

function classify(mediaType: string): Expect {
  return {
    index: isIndexMediaType(mediaType),
    manifest: isManifestMediaType(mediaType),
    schema1: isSchema1MediaType(mediaType),
    config: isConfigMediaType(mediaType),
    layer: isLayerMediaType(mediaType),
    nonDistributable: isNonDistributableMediaType(mediaType),
    compression: layerCompression(mediaType),
  };
}

Deno.test("the classification table covers every MediaType constant", () => {
  assert.deepEqual(Object.keys(TABLE).sort(), Object.keys(MediaType).sort());
});

Deno.test("MediaType constants hold the spec strings", () => {
  assert.equal(MediaType.OciManifest, "application/vnd.oci.image.manifest.v1+json");
  assert.equal(MediaType.OciIndex, "application/vnd.oci.image.index.v1+json");
  assert.equal(MediaType.DockerManifest, "application/vnd.docker.distribution.manifest.v2+json");
  assert.equal(
    MediaType.DockerManifestList,
    "application/vnd.docker.distribution.manifest.list.v2+json",
  );
  assert.equal(MediaType.DockerConfig, "application/vnd.docker.container.image.v1+json");
  assert.equal(MediaType.OciEmpty, "application/vnd.oci.empty.v1+json");
});

Deno.test("every classifier gives the expected answer for every MediaType constant", () => {
  for (const [name, expected] of Object.entries(TABLE) as [Name, Expect][]) {
    assert.deepEqual(classify(MediaType[name]), expected, name);
  }
});

Deno.test("classifiers ignore parameters such as charset", () => {
  for (const [name, expected] of Object.entries(TABLE) as [Name, Expect][]) {
    for (const suffix of ["; charset=utf-8", ";charset=UTF-8", " ; q=0.9"]) {
      assert.deepEqual(classify(MediaType[name] + suffix), expected, `${name}${suffix}`);
    }
  }
});

Deno.test("classifiers ignore case and surrounding whitespace", () => {
  for (const [name, expected] of Object.entries(TABLE) as [Name, Expect][]) {
    assert.deepEqual(classify(`  ${MediaType[name].toUpperCase()}  `), expected, name);
  }
});

Deno.test("generic and unrelated media types are none of the kinds", () => {
  for (
    const m of [
      "",
      "application/json",
      "application/octet-stream",
      "text/plain",
      "application/vnd.oci.image.manifest.v1+json.extra",
      "application/vnd.oci.image.index.v2+json",
      "application/vnd.cncf.helm.config.v1+json",
    ]
  ) {
    const c = classify(m);
    assert.deepEqual(
      { ...c, compression: "none" },
      NONE,
      `${JSON.stringify(m)} classified as ${JSON.stringify(c)}`,
    );
  }
});

Deno.test("layerCompression reads the suffix of OCI and Docker layer types", () => {
  assert.equal(layerCompression("application/vnd.oci.image.layer.v1.tar"), "none");
  assert.equal(layerCompression("application/vnd.oci.image.layer.v1.tar+gzip"), "gzip");
  assert.equal(layerCompression("application/vnd.oci.image.layer.v1.tar+zstd"), "zstd");
  assert.equal(layerCompression("application/vnd.docker.image.rootfs.diff.tar.gzip"), "gzip");
  assert.equal(layerCompression("application/vnd.docker.image.rootfs.diff.tar.zstd"), "zstd");
  assert.equal(layerCompression("application/vnd.docker.image.rootfs.diff.tar"), "none");
  assert.equal(
    layerCompression("application/vnd.oci.image.layer.v1.tar+gzip; charset=binary"),
    "gzip",
  );
});

Deno.test("MANIFEST_ACCEPT lists both index types before both manifest types", () => {
  assert.deepEqual([...MANIFEST_ACCEPT], [
    MediaType.OciIndex,
    MediaType.DockerManifestList,
    MediaType.OciManifest,
    MediaType.DockerManifest,
  ]);
  assert.ok(!MANIFEST_ACCEPT.some(isSchema1MediaType));
});
