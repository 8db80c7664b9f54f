import assert from "node:assert/strict";
import {
  computeDigest,
  Digester,
  digestOf,
  isDigest,
  parseDigest,
  verifyDigester,
  verifyDigesterAsync,
  verifyingStream,
} from "../../lib/digest.ts";
import { DigestMismatchError, ExitCode, InvalidDigestError } from "../../lib/errors.ts";

const enc = new TextEncoder();

const EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const EMPTY_SHA512 = "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" +
  "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
const ABC_SHA256 = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const ABC_SHA512 = "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

/** A stream that yields the given chunks, counting how many were pulled. */
function chunked(
  chunks: Uint8Array[],
): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else controller.close();
    },
  }, { highWaterMark: 0 });
  return { stream, pulled: () => i };
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function assertInvalidDigest(s: string, message?: RegExp): void {
  assert.throws(() => parseDigest(s), (err: unknown) => {
    assert.ok(err instanceof InvalidDigestError, `${s}: ${err}`);
    assert.equal(err.exitCode, ExitCode.Usage);
    if (message) assert.match(err.message, message);
    return true;
  }, `expected ${JSON.stringify(s)} to be rejected`);
  assert.equal(isDigest(s), false, s);
}

Deno.test("parseDigest splits a sha256 digest into algorithm and hex", () => {
  const hex = "0123456789abcdef".repeat(4);
  assert.deepEqual(parseDigest(`sha256:${hex}`), { algorithm: "sha256", hex });
  assert.equal(isDigest(`sha256:${hex}`), true);
});

Deno.test("parseDigest accepts sha512 with 128 hex characters", () => {
  const hex = "0123456789abcdef".repeat(8);
  assert.deepEqual(parseDigest(`sha512:${hex}`), { algorithm: "sha512", hex });
  assert.equal(isDigest(EMPTY_SHA512), true);
});

Deno.test("parseDigest refuses hex one character too short or too long", () => {
  assertInvalidDigest("sha256:" + "a".repeat(63), /invalid sha256 digest/);
  assertInvalidDigest("sha256:" + "a".repeat(65), /invalid sha256 digest/);
  assertInvalidDigest("sha512:" + "a".repeat(127), /invalid sha512 digest/);
  assertInvalidDigest("sha512:" + "a".repeat(129), /invalid sha512 digest/);
});

Deno.test("parseDigest refuses a sha256-length hex labelled sha512 and vice versa", () => {
  assertInvalidDigest("sha512:" + "a".repeat(64));
  assertInvalidDigest("sha256:" + "a".repeat(128));
});

Deno.test("parseDigest refuses upper-case hex", () => {
  assertInvalidDigest("sha256:" + "A".repeat(64), /invalid sha256 digest/);
  assertInvalidDigest("sha256:" + "a".repeat(63) + "F");
});

Deno.test("parseDigest refuses an upper-case algorithm", () => {
  assertInvalidDigest("SHA256:" + "a".repeat(64));
});

Deno.test("parseDigest refuses non-hex characters of the right length", () => {
  assertInvalidDigest("sha256:" + "g".repeat(64));
  assertInvalidDigest("sha256:" + "a".repeat(62) + "==");
});

Deno.test("parseDigest names an unknown but well-formed algorithm as unsupported", () => {
  assertInvalidDigest("md5:d41d8cd98f00b204e9800998ecf8427e", /unsupported digest algorithm/);
  assertInvalidDigest("sha384:" + "a".repeat(96), /unsupported digest algorithm/);
  assertInvalidDigest("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", /unsupported/);
});

Deno.test("parseDigest refuses strings outside the OCI digest grammar", () => {
  for (
    const s of [
      "",
      "sha256",
      "sha256:",
      ":" + "a".repeat(64),
      "a".repeat(64),
      " sha256:" + "a".repeat(64),
      "sha256:" + "a".repeat(64) + " ",
      "sha256::" + "a".repeat(64),
      "sha256:" + "a".repeat(32) + ":" + "a".repeat(31),
      "sha-:" + "a".repeat(64),
      "sha256\n:" + "a".repeat(64),
    ]
  ) {
    assertInvalidDigest(s, /invalid digest/);
  }
});

Deno.test("parseDigest error quotes the offending input", () => {
  assert.throws(() => parseDigest("nope"), { message: 'invalid digest "nope"' });
});

Deno.test("computeDigest of the empty string matches the sha256 and sha512 vectors", () => {
  assert.equal(computeDigest(new Uint8Array()), EMPTY_SHA256);
  assert.equal(computeDigest(new Uint8Array(), "sha256"), EMPTY_SHA256);
  assert.equal(computeDigest(new Uint8Array(), "sha512"), EMPTY_SHA512);
});

Deno.test('computeDigest of "abc" matches the FIPS 180 vectors', () => {
  assert.equal(computeDigest(enc.encode("abc")), ABC_SHA256);
  assert.equal(computeDigest(enc.encode("abc"), "sha512"), ABC_SHA512);
});

Deno.test("computeDigest output is itself a valid digest", () => {
  assert.ok(isDigest(computeDigest(enc.encode("hello"))));
  assert.ok(isDigest(computeDigest(enc.encode("hello"), "sha512")));
});

Deno.test("Digester fed in pieces equals computeDigest of the whole, and counts bytes", () => {
  const data = new Uint8Array(10_000).map((_, i) => (i * 31) % 256);
  for (const algorithm of ["sha256", "sha512"] as const) {
    const d = new Digester(algorithm);
    d.update(data.subarray(0, 1));
    d.update(data.subarray(1, 1));
    d.update(data.subarray(1, 4097));
    d.update(data.subarray(4097));
    assert.equal(d.size, data.byteLength);
    assert.equal(d.digest(), computeDigest(data, algorithm));
  }
});

Deno.test("Digester defaults to sha256", () => {
  const d = new Digester();
  d.update(enc.encode("ab"));
  d.update(enc.encode("c"));
  assert.equal(d.digest(), ABC_SHA256);
});

Deno.test("verifyDigester throws DigestMismatchError on wrong size before checking the hash", () => {
  const d = new Digester();
  d.update(enc.encode("abc"));
  assert.throws(() => verifyDigester(d, { digest: ABC_SHA256, size: 4 }), (err: unknown) => {
    assert.ok(err instanceof DigestMismatchError);
    assert.match(err.message, /size mismatch.*expected 4 bytes, got 3/);
    return true;
  });
});

Deno.test("verifyDigester accepts matching content and refuses a wrong digest", () => {
  const ok = new Digester();
  ok.update(enc.encode("abc"));
  verifyDigester(ok, { digest: ABC_SHA256, size: 3 });
  const bad = new Digester();
  bad.update(enc.encode("abd"));
  assert.throws(() => verifyDigester(bad, { digest: ABC_SHA256 }), DigestMismatchError);
});

Deno.test("verifyingStream passes correct bytes through unchanged", async () => {
  const data = new Uint8Array(70_000).map((_, i) => (i * 7 + 3) % 256);
  const { stream } = chunked([
    data.subarray(0, 100),
    data.subarray(100, 65_636),
    data.subarray(65_636),
  ]);
  const out = await collect(
    stream.pipeThrough(verifyingStream({ digest: computeDigest(data), size: data.length })),
  );
  assert.deepEqual(out, data);
});

Deno.test("verifyingStream accepts content when no size is given", async () => {
  const { stream } = chunked([enc.encode("a"), enc.encode("bc")]);
  const out = await collect(stream.pipeThrough(verifyingStream({ digest: ABC_SHA256 })));
  assert.equal(new TextDecoder().decode(out), "abc");
});

Deno.test("verifyingStream verifies sha512 digests", async () => {
  const { stream } = chunked([enc.encode("ab"), enc.encode("c")]);
  const out = await collect(stream.pipeThrough(verifyingStream({ digest: ABC_SHA512, size: 3 })));
  assert.equal(out.length, 3);
  const bad = chunked([enc.encode("abd")]);
  await assert.rejects(
    collect(bad.stream.pipeThrough(verifyingStream({ digest: ABC_SHA512, size: 3 }))),
    DigestMismatchError,
  );
});

Deno.test("verifyingStream of an empty body matches the empty digest", async () => {
  const { stream } = chunked([]);
  const out = await collect(stream.pipeThrough(verifyingStream({ digest: EMPTY_SHA256, size: 0 })));
  assert.equal(out.length, 0);
});

Deno.test("verifyingStream delivers every chunk, then errors at the end on a wrong digest", async () => {
  const { stream } = chunked([enc.encode("ab"), enc.encode("d")]);
  const reader = stream.pipeThrough(verifyingStream({ digest: ABC_SHA256, size: 3 })).getReader();
  const got: string[] = [];
  const err = await (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        got.push(new TextDecoder().decode(value));
      }
    } catch (e) {
      return e;
    }
  })();
  assert.deepEqual(got, ["ab", "d"]);
  assert.ok(err instanceof DigestMismatchError, String(err));
  assert.match(err.message, new RegExp(`digest mismatch: expected ${ABC_SHA256}`));
});

Deno.test("verifyingStream errors on a body shorter than the expected size", async () => {
  const { stream } = chunked([enc.encode("ab")]);
  await assert.rejects(
    collect(stream.pipeThrough(verifyingStream({ digest: ABC_SHA256, size: 3 }))),
    (err: unknown) => {
      assert.ok(err instanceof DigestMismatchError);
      assert.match(err.message, /size mismatch.*expected 3 bytes, got 2/);
      return true;
    },
  );
});

Deno.test("verifyingStream errors on a shorter body even when its digest is the one expected", async () => {
  // The bytes are "abc" but the descriptor claims 4 bytes: size must be checked too.
  const { stream } = chunked([enc.encode("abc")]);
  await assert.rejects(
    collect(stream.pipeThrough(verifyingStream({ digest: ABC_SHA256, size: 4 }))),
    /size mismatch/,
  );
});

Deno.test("verifyingStream errors as soon as a longer body exceeds the size", async () => {
  // A source far longer than expected: the error must come with the chunk
  // that crosses the size, without reading the rest.
  const chunks = Array.from({ length: 1000 }, () => new Uint8Array(10));
  const { stream, pulled } = chunked(chunks);
  const reader = stream.pipeThrough(verifyingStream({ digest: ABC_SHA256, size: 15 })).getReader();
  const first = await reader.read();
  assert.equal(first.value?.length, 10);
  await assert.rejects(reader.read(), (err: unknown) => {
    assert.ok(err instanceof DigestMismatchError);
    assert.match(err.message, /size mismatch.*more than 15 bytes/);
    return true;
  });
  assert.ok(pulled() <= 3, `read ${pulled()} chunks of 1000 before failing`);
});

Deno.test("verifyingStream does not pass on the chunk that exceeds the size", async () => {
  const { stream } = chunked([enc.encode("abc"), enc.encode("d")]);
  const reader = stream.pipeThrough(verifyingStream({ digest: ABC_SHA256, size: 3 })).getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value), "abc");
  await assert.rejects(reader.read(), DigestMismatchError);
});

Deno.test("verifyingStream with a correct digest but extra bytes still errors", async () => {
  const { stream } = chunked([enc.encode("abc"), enc.encode("")]);
  // An empty trailing chunk does not exceed the size…
  const ok = await collect(stream.pipeThrough(verifyingStream({ digest: ABC_SHA256, size: 3 })));
  assert.equal(ok.length, 3);
  // …but one more byte does.
  const longer = chunked([enc.encode("abcd")]);
  await assert.rejects(
    collect(longer.stream.pipeThrough(verifyingStream({ digest: ABC_SHA256, size: 3 }))),
    DigestMismatchError,
  );
});

Deno.test("verifyingStream works over many one-byte chunks", async () => {
  const data = new Uint8Array(5000).map((_, i) => (i * 13) % 256);
  const chunks = Array.from(data, (b) => new Uint8Array([b]));
  const { stream } = chunked(chunks);
  const out = await collect(
    stream.pipeThrough(verifyingStream({ digest: computeDigest(data), size: data.length })),
  );
  assert.deepEqual(out, data);

  const wrong = chunks.slice();
  wrong[2500] = new Uint8Array([(data[2500] + 1) % 256]);
  await assert.rejects(
    collect(
      chunked(wrong).stream.pipeThrough(
        verifyingStream({ digest: computeDigest(data), size: data.length }),
      ),
    ),
    DigestMismatchError,
  );
});

Deno.test("verifyingStream refuses an invalid expected digest up front", () => {
  assert.throws(() => verifyingStream({ digest: "sha256:abc" }), InvalidDigestError);
  assert.throws(() => verifyingStream({ digest: "md5:" + "a".repeat(32) }), InvalidDigestError);
});

Deno.test("digestOf (WebCrypto) agrees with computeDigest for both algorithms and any size", async () => {
  for (const size of [0, 1, 55, 56, 64, 1000, 300_000]) {
    const bytes = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff);
    for (const algorithm of ["sha256", "sha512"] as const) {
      assert.equal(await digestOf(bytes, algorithm), computeDigest(bytes, algorithm), `${size}`);
    }
  }
});

Deno.test("a Digester told a small size gives the same digest, sync or native, in any chunking", async () => {
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
  const want = computeDigest(bytes);
  for (const [announced, cut] of [[1000, 400], [300_000, 65536], [100, 7]] as const) {
    const part = bytes.subarray(0, announced);
    const sync = new Digester("sha256", announced);
    const native = new Digester("sha256", announced);
    for (let i = 0; i < part.byteLength; i += cut) {
      sync.update(part.subarray(i, i + cut));
      native.update(part.subarray(i, i + cut));
    }
    assert.equal(sync.digest(), computeDigest(part));
    assert.equal(await native.digestAsync(), computeDigest(part));
  }
  // More bytes than announced, past the small-content limit: still right.
  const over = new Digester("sha256", 10);
  for (let i = 0; i < bytes.byteLength; i += 50_000) over.update(bytes.subarray(i, i + 50_000));
  assert.equal(await over.digestAsync(), want);
  const wrong = new Digester("sha256", 3);
  wrong.update(new Uint8Array(3));
  await assert.rejects(
    verifyDigesterAsync(wrong, { digest: computeDigest(new Uint8Array(1)), size: 3 }),
    DigestMismatchError,
  );
});
