/**
 * The tar index (untrusted input refused, links inside followed) and the
 * tar writer (members serialised, a failed member cut off again), without
 * any registry.
 */
import assert from "node:assert/strict";
import { buildTar as tar } from "../helpers/tar_build.ts";
import { indexTar, readMember, resolveMember, TarError } from "../../lib/archive/tar_index.ts";
import { TarWriter } from "../../lib/archive/tar_writer.ts";
import { computeDigest } from "../../lib/digest.ts";
import { DigestMismatchError, NotFoundError } from "../../lib/errors.ts";

const enc = new TextEncoder();

async function withTar(bytes: Uint8Array, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dtool-tar-" });
  try {
    await Deno.writeFile(`${dir}/a.tar`, bytes);
    await fn(`${dir}/a.tar`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function refused(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  await withTar(bytes, async (path) => {
    const err = await indexTar(path).then(() => undefined, (e) => e);
    assert.ok(err instanceof TarError, `expected a TarError, got ${err}`);
    assert.match(err.message, pattern);
    assert.ok(err.message.includes(path), "the error names the archive");
    assert.ok(!err.message.includes("\n"), "one line");
  });
}

Deno.test("tar index: members are byte ranges, read without reading data to index", async () => {
  const big = crypto.getRandomValues(new Uint8Array(3000));
  const bytes = tar([
    { path: "./oci-layout", data: enc.encode("{}") },
    { path: "blobs/", type: "Directory" },
    { path: "blobs/sha256/aa", data: big },
    { path: "a/very/" + "long/".repeat(30) + "name.json", data: enc.encode("[1]"), pax: true },
  ]);
  await withTar(bytes, async (path) => {
    const index = await indexTar(path);
    assert.deepEqual([...index.members.keys()].sort(), [
      "a/very/" + "long/".repeat(30) + "name.json",
      "blobs/sha256/aa",
      "oci-layout",
    ]);
    const m = index.members.get("blobs/sha256/aa")!;
    assert.equal(m.size, 3000);
    assert.deepEqual(bytes.subarray(m.offset, m.offset + m.size), big);
    assert.deepEqual(await readMember(index, "oci-layout"), enc.encode("{}"));
    assert.deepEqual(
      await readMember(index, "a/very/" + "long/".repeat(30) + "name.json"),
      enc.encode("[1]"),
    );
  });
});

Deno.test("tar index: links that stay inside are followed, as legacy docker save writes them", async () => {
  const layer = enc.encode("layer bytes");
  const bytes = tar([
    { path: "abc.tar", data: layer },
    { path: "id1/layer.tar", type: "SymbolicLink", linkpath: "../abc.tar" },
    { path: "id2/layer.tar", type: "SymbolicLink", linkpath: "../id1/layer.tar" },
    { path: "id3/layer.tar", type: "Link", linkpath: "abc.tar" },
  ]);
  await withTar(bytes, async (path) => {
    const index = await indexTar(path);
    for (const name of ["id1/layer.tar", "id2/layer.tar", "id3/layer.tar"]) {
      assert.equal(resolveMember(index, name).name, "abc.tar");
      assert.deepEqual(await readMember(index, name), layer);
    }
    assert.throws(() => resolveMember(index, "nothing"), NotFoundError);
  });
});

Deno.test("tar index: a link loop and a dangling link are errors, not hangs", async () => {
  const bytes = tar([
    { path: "a", type: "SymbolicLink", linkpath: "b" },
    { path: "b", type: "SymbolicLink", linkpath: "a" },
    { path: "c", type: "SymbolicLink", linkpath: "missing" },
  ]);
  await withTar(bytes, async (path) => {
    const index = await indexTar(path);
    assert.throws(() => resolveMember(index, "a"), /loop/);
    assert.throws(
      () => resolveMember(index, "c"),
      /leads to "missing", which is not in the archive/,
    );
  });
});

Deno.test("tar index: untrusted archives are refused in one line naming the entry", async (t) => {
  const data = enc.encode("x");
  await t.step(
    "a .. component",
    () => refused(tar([{ path: "blobs/../../etc/passwd", data }]), /contains "\.\."/),
  );
  await t.step(
    "an absolute path",
    () => refused(tar([{ path: "/etc/passwd", data }]), /absolute path/),
  );
  await t.step(
    "a symlink out of the archive",
    () =>
      refused(
        tar([{ path: "id/layer.tar", type: "SymbolicLink", linkpath: "../../x" }]),
        /points outside the archive/,
      ),
  );
  await t.step(
    "an absolute symlink",
    () =>
      refused(
        tar([{ path: "l", type: "SymbolicLink", linkpath: "/etc/passwd" }]),
        /points outside/,
      ),
  );
  await t.step(
    "a hard link out of the archive",
    () => refused(tar([{ path: "l", type: "Link", linkpath: "../x" }]), /points outside/),
  );
  await t.step(
    "a device",
    () =>
      refused(
        tar([{ path: "dev/null", type: "CharacterDevice" }]),
        /"dev\/null" is a device or FIFO/,
      ),
  );
  await t.step("a FIFO", () => refused(tar([{ path: "p", type: "FIFO" }]), /device or FIFO/));
  await t.step(
    "a size past the end of the file",
    () => refused(tar([{ path: "big", data, size: 1 << 20 }], false), /"big" runs past the end/),
  );
  await t.step(
    "a truncated archive (no end marker)",
    () => refused(tar([{ path: "a", data }], false), /truncated/),
  );
  await t.step("a cut header", async () => {
    const whole = tar([{ path: "a", data }, { path: "b", data }]);
    await refused(whole.subarray(0, 1024 + 100), /truncated/);
  });
  await t.step("a corrupt header", async () => {
    const bytes = tar([{ path: "a", data }]);
    bytes[10] ^= 0xff;
    await refused(bytes, /bad tar header at byte 0/);
  });
});

Deno.test("tar writer: concurrent members are written one at a time, a failed one is cut off", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dtool-tarw-" });
  try {
    const path = `${dir}/out.tar`;
    await Deno.writeTextFile(path, "old content");
    const w = await TarWriter.create(path);
    const blobs = Array.from(
      { length: 6 },
      (_, i) => crypto.getRandomValues(new Uint8Array(1000 + i * 700)),
    );
    // Each stream yields in several chunks, with pauses, so members would interleave if not serialised.
    const slow = (b: Uint8Array, corrupt = false) =>
      new ReadableStream<Uint8Array>({
        async start(c) {
          for (let i = 0; i < b.byteLength; i += 256) {
            await new Promise((r) => setTimeout(r, 1));
            const chunk = b.slice(i, i + 256);
            if (corrupt && i === 0) chunk[0] ^= 1;
            c.enqueue(chunk);
          }
          c.close();
        },
      });
    const desc = (b: Uint8Array) => ({ digest: computeDigest(b), size: b.byteLength });
    const results = await Promise.allSettled(
      blobs.map((b, i) => w.addStream(`blobs/${i}`, desc(b), slow(b, i === 2))),
    );
    assert.equal(results.filter((r) => r.status === "rejected").length, 1);
    const failure = (results[2] as PromiseRejectedResult).reason;
    assert.ok(failure instanceof DigestMismatchError, String(failure));
    assert.equal(w.has("blobs/2"), false);
    // The retry writes it afresh.
    await w.addStream("blobs/2", desc(blobs[2]), slow(blobs[2]));
    assert.equal(
      await Deno.readTextFile(path),
      "old content",
      "the destination is untouched until finish",
    );
    await w.finish();
    const index = await indexTar(path);
    assert.equal(index.members.size, 6);
    for (const [i, b] of blobs.entries()) {
      assert.deepEqual(await readMember(index, `blobs/${i}`), b);
    }
    const listing = await new Deno.Command("tar", { args: ["tf", path], stdout: "piped" }).output();
    assert.equal(
      new TextDecoder().decode(listing.stdout).trim().split("\n").length,
      6,
      "GNU tar reads it",
    );
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name),
      ["out.tar"],
      "no temporary file left",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tar writer: discard leaves the destination as it was", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dtool-tarw-" });
  try {
    const path = `${dir}/out.tar`;
    await Deno.writeTextFile(path, "old content");
    const w = await TarWriter.create(path);
    await w.addBytes("a", enc.encode("new"));
    await w.discard();
    assert.equal(await Deno.readTextFile(path), "old content");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.tar"]);
    await assert.rejects(() => w.addBytes("b", enc.encode("late")), /closed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
