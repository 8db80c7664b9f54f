/**
 * `deno task demo`: dtool's main job on a fresh machine, offline, with
 * nothing else running. It starts `dtool serve` in this process on a free
 * port, builds a small real image (one file in one layer, and its config)
 * for two platforms, copies it into the server, copies one platform to a
 * second repository, inspects that, lists tags, and stops. Every step runs
 * the code the dtool commands run.
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { runCopy } from "../lib/cli/copy.ts";
import { runInspect } from "../lib/cli/inspect.ts";
import { runListTags } from "../lib/cli/list_tags.ts";
import { runTag } from "../lib/cli/tag.ts";
import { computeDigest } from "../lib/digest.ts";
import type { Descriptor } from "../lib/manifest.ts";
import { MediaType } from "../lib/media_types.ts";
import { OciLayout, withRef } from "../lib/oci/layout.ts";
import { serveRegistry } from "../lib/serve/server.ts";

const PLATFORMS = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64" },
];
const enc = new TextEncoder();

function say(line: string): void {
  console.log(`\n==> ${line}`);
}

/** A tar archive of one regular file (ustar header, content, two zero blocks). */
function tarOf(name: string, data: Uint8Array): Uint8Array {
  const header = new Uint8Array(512);
  const put = (text: string, at: number) => header.set(enc.encode(text), at);
  const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, "0") + "\0";
  put(name, 0);
  put(octal(0o644, 8), 100);
  put(octal(0, 8), 108);
  put(octal(0, 8), 116);
  put(octal(data.byteLength, 12), 124);
  put(octal(1700000000, 12), 136);
  put("        ", 148);
  put("0", 156);
  put("ustar\x0000", 257);
  const sum = header.reduce((a, b) => a + b, 0);
  put(octal(sum, 7) + " ", 148);
  const body = Math.ceil(data.byteLength / 512) * 512;
  const out = new Uint8Array(512 + body + 1024);
  out.set(header);
  out.set(data, 512);
  return out;
}

/** Writes a blob into the layout through its verified writer; returns its descriptor. */
async function put(layout: OciLayout, mediaType: string, bytes: Uint8Array): Promise<Descriptor> {
  const desc = { mediaType, digest: computeDigest(bytes), size: bytes.byteLength };
  const w = await layout.writeBlob(desc);
  await new Blob([bytes as BlobPart]).stream().pipeTo(w.writable);
  await w.commit();
  return desc;
}

/** Builds the two-platform image as an OCI layout with one ref, `hello`. */
async function buildImage(dir: string): Promise<void> {
  const layout = await OciLayout.open(dir, { create: true });
  const children: Descriptor[] = [];
  for (const platform of PLATFORMS) {
    const tar = tarOf(
      "hello.txt",
      enc.encode(`Hello from dtool, built for ${platform.os}/${platform.architecture}.\n`),
    );
    const layer = await put(layout, MediaType.OciLayerGzip, new Uint8Array(gzipSync(tar)));
    const config = await put(
      layout,
      MediaType.OciConfig,
      enc.encode(JSON.stringify({
        created: "2024-01-01T00:00:00Z",
        ...platform,
        config: { Cmd: ["cat", "/hello.txt"], Labels: { "org.example.demo": "dtool" } },
        rootfs: { type: "layers", diff_ids: [computeDigest(tar)] },
        history: [{ created: "2024-01-01T00:00:00Z", created_by: "dtool demo: add hello.txt" }],
      })),
    );
    const manifest = await put(
      layout,
      MediaType.OciManifest,
      enc.encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        config,
        layers: [layer],
      })),
    );
    children.push({ ...manifest, platform });
  }
  const index = await put(
    layout,
    MediaType.OciIndex,
    enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: children,
    })),
  );
  await layout.updateIndex((m) => withRef(m, index, "hello"));
  console.log(`built index ${index.digest} (${PLATFORMS.length} platforms) in oci:${dir}`);
}

const registryFlags = { tlsVerify: true };
const copyFlags = {
  srcTlsVerify: true,
  destTlsVerify: true,
  progress: "plain",
};

const work = await Deno.makeTempDir({ prefix: "dtool-demo-" });
say("Starting dtool serve in this process on a free port");
const registry = await serveRegistry({ addr: "127.0.0.1:0", log: null });
console.log(`serving ${registry.storage} at ${registry.url}`);
const host = registry.addr;
try {
  say("Building a small image (one file in one layer, with its config) for two platforms");
  await buildImage(`${work}/layout`);

  say(`dtool copy --all oci:${work}/layout:hello docker://${host}/demo/hello:1`);
  await runCopy(`oci:${work}/layout:hello`, `docker://${host}/demo/hello:1`, {
    ...copyFlags,
    all: true,
  });

  say(
    `dtool copy --platform linux/arm64 docker://${host}/demo/hello:1 docker://${host}/demo/hello-arm64:1`,
  );
  await runCopy(`docker://${host}/demo/hello:1`, `docker://${host}/demo/hello-arm64:1`, {
    ...copyFlags,
    platform: ["linux/arm64"],
  });

  say(`dtool inspect docker://${host}/demo/hello-arm64:1`);
  await runInspect(`docker://${host}/demo/hello-arm64:1`, { ...registryFlags, tags: true });

  say(`dtool tag docker://${host}/demo/hello:1 latest`);
  await runTag(`docker://${host}/demo/hello:1`, ["latest"], registryFlags);

  say(`dtool list-tags docker://${host}/demo/hello`);
  await runListTags(`docker://${host}/demo/hello`, registryFlags);
} finally {
  say("Stopping the server");
  await registry.shutdown();
  await Deno.remove(work, { recursive: true }).catch(() => {});
  console.log("done: the server and its temporary storage are gone");
}
