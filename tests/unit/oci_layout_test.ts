/** The OCI layout store: refs in index.json, verified blob writes, the lock. */
import assert from "node:assert/strict";
import {
  computeDigest,
  layoutReferrers,
  NotFoundError,
  OciLayout,
  parseManifest,
  withRef,
} from "../../mod.ts";

const enc = new TextEncoder();
const manifest = (n: number) => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: computeDigest(enc.encode(`m${n}`)),
  size: 2,
});

Deno.test("updateIndex: concurrent updates of one layout all land", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const layouts = await Promise.all(
      Array.from({ length: 20 }, () => OciLayout.open(dir, { create: true })),
    );
    await Promise.all(
      layouts.map((l, i) => l.updateIndex((m) => withRef(m, manifest(i), `r${i}`))),
    );
    const refs = (await layouts[0].readIndex()).map((d) =>
      d.annotations?.[
        "org.opencontainers.image.ref.name"
      ]
    );
    assert.deepEqual(refs.sort(), Array.from({ length: 20 }, (_, i) => `r${i}`).sort());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("withRef replaces one ref, keeps the rest, and never repeats an unnamed digest", () => {
  const a = withRef([], manifest(1), "x");
  const b = withRef(a, manifest(2), "y");
  const c = withRef(b, manifest(3), "x");
  assert.deepEqual(c.map((d) => d.digest), [manifest(2).digest, manifest(3).digest]);
  const u = withRef(withRef(c, manifest(4)), manifest(4));
  assert.equal(u.filter((d) => d.digest === manifest(4).digest).length, 1);
});

Deno.test("writeBlob: bytes that do not match the digest never appear", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const layout = await OciLayout.open(dir, { create: true });
    const desc = {
      mediaType: "application/octet-stream",
      digest: computeDigest(enc.encode("ab")),
      size: 2,
    };
    const w = await layout.writeBlob(desc);
    await new Blob(["ac"]).stream().pipeTo(w.writable);
    await assert.rejects(w.commit(), /digest mismatch/);
    assert.equal(await layout.hasBlob(desc), false);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".tmp"));
    assert.deepEqual(left, []);
    const ok = await layout.writeBlob(desc);
    await new Blob(["ab"]).stream().pipeTo(ok.writable);
    await ok.commit();
    assert.equal(await layout.hasBlob(desc), true);
    const text = await new Response(await layout.readBlob(desc)).text();
    assert.equal(text, "ab");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("open: no layout is a not-found error naming the directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(OciLayout.open(`${dir}/none`), (e: Error) => {
      assert.equal(e.name, "NotFoundError");
      assert.match(e.message, /no OCI layout at .*none/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("layoutReferrers: an entry whose manifest is gone does not hide the others", async () => {
  const subject = computeDigest(enc.encode("subject"));
  const referrer = {
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: computeDigest(enc.encode("r")),
    size: 1,
  };
  const gone = { ...referrer, digest: computeDigest(enc.encode("gone")) };
  const raw = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: referrer.mediaType,
    artifactType: "application/x-sig",
    config: { mediaType: "application/vnd.oci.empty.v1+json", digest: referrer.digest, size: 2 },
    layers: [],
    subject: { mediaType: referrer.mediaType, digest: subject, size: 7 },
  }));
  const found = await layoutReferrers([gone, referrer], subject, (d) => {
    if (d.digest === gone.digest) return Promise.reject(new NotFoundError("gone"));
    return Promise.resolve(parseManifest(raw, d.mediaType));
  });
  assert.deepEqual(found.map((d) => d.artifactType), ["application/x-sig"]);
});
