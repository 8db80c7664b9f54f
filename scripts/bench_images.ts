/**
 * Source images for `deno task bench`, built without dtool and pushed with skopeo.
 *
 * Like the test fixtures (`tests/helpers/images.ts`) an image is written as a skopeo `dir:`
 * layout and pushed with `skopeo copy --preserve-digests`, but layers are streamed to disk in
 * 1 MiB chunks so a 1 GiB layer never sits in memory.
 *
 * Each layer is a real one-file tar of random bytes wrapped in gzip at level 0 (stored blocks):
 * as fast to produce as the raw tar, yet with the usual `tar+gzip` media type. An uncompressed
 * `...layer.v1.tar` layer would not do: `skopeo copy` between registries compresses such layers
 * on the fly, so the destination would get other digests and skopeo would spend its time in gzip.
 * The config's `diff_ids` are the digests of the uncompressed tars, as in a real image.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { sha256Digest, tarHeader } from "../tests/helpers/images.ts";
import { skopeoInspectRaw } from "../tests/helpers/skopeo.ts";

/** Media types of the benchmark images. */
export const BenchMediaTypes = {
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

/** The shape of a benchmark image. */
export interface BenchImageSpec {
  /** Number of layers. */
  layers: number;
  /** Random payload bytes per layer (the tar and gzip framing add a little). */
  layerSize: number;
}

/** A benchmark image as pushed to the source registry. */
export interface BenchImage {
  /** `"127.0.0.1:PORT/repo:tag"`. */
  ref: string;
  /** `sha256:...` of the manifest bytes. */
  digest: string;
  /** Sum of the config and layer sizes: the bytes a copy moves. */
  blobBytes: number;
  /** Number of layers. */
  layers: number;
}

const CHUNK = 1 << 20;
const enc = new TextEncoder();

/** The tar of one random file, in fresh chunks (zlib may still hold earlier ones). */
async function* randomTar(name: string, size: number): AsyncGenerator<Buffer> {
  yield Buffer.from(tarHeader(name, size));
  for (let off = 0; off < size; off += CHUNK) {
    const b = Buffer.alloc(Math.min(CHUNK, size - off));
    for (let i = 0; i < b.length; i += 65536) {
      crypto.getRandomValues(b.subarray(i, Math.min(b.length, i + 65536)));
    }
    yield b;
  }
  yield Buffer.alloc(((512 - (size % 512)) % 512) + 1024);
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await file.write(data.subarray(off));
}

/** Streams one gzip'd random tar layer into `dir`, named by its digest like a `dir:` blob. */
async function writeLayer(
  dir: string,
  name: string,
  size: number,
): Promise<{ digest: string; size: number; diffId: string }> {
  const tmp = `${dir}/${name}.tmp`;
  const diff = createHash("sha256");
  const comp = createHash("sha256");
  let written = 0;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    const tar = Readable.from((async function* () {
      for await (const c of randomTar(name, size)) {
        diff.update(c);
        yield c;
      }
    })());
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        comp.update(chunk);
        written += chunk.length;
        writeAll(file, chunk).then(() => done(), done);
      },
    });
    await pipeline(tar, createGzip({ level: 0 }), sink);
  } finally {
    file.close();
  }
  const hex = comp.digest("hex");
  await Deno.rename(tmp, `${dir}/${hex}`);
  return { digest: `sha256:${hex}`, size: written, diffId: `sha256:${diff.digest("hex")}` };
}

/**
 * Builds an image of `spec.layers` random layers in a `dir:` layout under `workDir`, pushes it
 * to `host` as `repoTag` with skopeo (environment `skopeoEnv`, e.g. a private blob-info cache),
 * checks the registry serves the built manifest, and removes the layout.
 */
export async function pushBenchImage(
  host: string,
  repoTag: string,
  spec: BenchImageSpec,
  workDir: string,
  skopeoEnv: Record<string, string> = {},
): Promise<BenchImage> {
  const dir = await Deno.makeTempDir({ dir: workDir, prefix: "layout-" });
  try {
    const { digest, blobBytes } = await writeBenchLayout(dir, spec, repoTag);
    const ref = `${host}/${repoTag}`;
    const out = await new Deno.Command("skopeo", {
      args: [
        "--insecure-policy",
        "copy",
        "--quiet",
        "--preserve-digests",
        "--dest-tls-verify=false",
        `dir:${dir}`,
        `docker://${ref}`,
      ],
      env: skopeoEnv,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`skopeo push of ${ref} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const served = sha256Digest(await skopeoInspectRaw(ref));
    if (served !== digest) throw new Error(`${ref}: registry serves ${served}, built ${digest}`);
    return { ref, digest, blobBytes, layers: spec.layers };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Writes an image of `spec.layers` random layers as a skopeo `dir:` layout
 * in `dir` (labelled `label`); returns its manifest digest and blob bytes.
 */
export async function writeBenchLayout(
  dir: string,
  spec: BenchImageSpec,
  label: string,
): Promise<{ digest: string; blobBytes: number }> {
  const repoTag = label;
  const layers = [];
  for (let i = 0; i < spec.layers; i++) {
    layers.push(await writeLayer(dir, `layer-${i}.bin`, spec.layerSize));
  }
  const created = "2024-01-01T00:00:00Z";
  const config = enc.encode(JSON.stringify(
    {
      created,
      architecture: "amd64",
      os: "linux",
      config: { Env: ["PATH=/usr/bin:/bin"], Labels: { "org.dtool.bench": repoTag } },
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created, created_by: `dtool-bench: layer-${i}.bin` })),
    },
    null,
    2,
  ));
  const configDigest = sha256Digest(config);
  await Deno.writeFile(`${dir}/${configDigest.slice(7)}`, config);
  const manifest = enc.encode(JSON.stringify(
    {
      schemaVersion: 2,
      mediaType: BenchMediaTypes.manifest,
      config: { mediaType: BenchMediaTypes.config, size: config.length, digest: configDigest },
      layers: layers.map((l) => ({
        mediaType: BenchMediaTypes.layer,
        size: l.size,
        digest: l.digest,
      })),
    },
    null,
    2,
  ));
  await Deno.writeFile(`${dir}/manifest.json`, manifest);
  await Deno.writeTextFile(`${dir}/version`, "Directory Transport Version: 1.1\n");
  return {
    digest: sha256Digest(manifest),
    blobBytes: config.length + layers.reduce((n, l) => n + l.size, 0),
  };
}
