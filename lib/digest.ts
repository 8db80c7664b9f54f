/**
 * Content digests: parse and validate `algorithm:hex`, compute them, and
 * verify bytes as they stream past.
 *
 * @module
 */
import type { Hash } from "node:crypto";
import { DigestMismatchError, InvalidDigestError } from "./errors.ts";
import { Sha256 } from "./sha256.ts";

/** A validated digest string such as `sha256:2c26b4…`. */
export type Digest = string;

/** Hash algorithms dtool can compute and verify. */
export type DigestAlgorithm = "sha256" | "sha512";

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const GRAMMAR = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/**
 * Up to this many bytes, SHA-256 is computed in TypeScript: fast enough for
 * manifests and configs, and it spares a short command loading `node:crypto`
 * (tens of milliseconds of start-up). Larger content uses `node:crypto`,
 * which hashes a GiB several times faster.
 */
export const SMALL_CONTENT = 256 * 1024;

/** An incremental hash: the part of `node:crypto`'s `Hash` that dtool uses. */
interface HashState {
  update(chunk: Uint8Array): unknown;
  hex(): string;
}

/** `node:crypto`, loaded on first use only (synchronously: hashing APIs here are sync). */
function nativeHash(algorithm: DigestAlgorithm): HashState {
  const { createHash } = process.getBuiltinModule("node:crypto") as typeof import("node:crypto");
  const hash: Hash = createHash(algorithm);
  return { update: (chunk) => hash.update(chunk), hex: () => hash.digest("hex") };
}

function newHash(algorithm: DigestAlgorithm, size: number | undefined): HashState {
  return algorithm === "sha256" && size !== undefined && size <= SMALL_CONTENT
    ? new Sha256()
    : nativeHash(algorithm);
}

/** The two halves of a digest. */
export interface ParsedDigest {
  /** `sha256` or `sha512`. */
  algorithm: DigestAlgorithm;
  /** Lower-case hex of the hash. */
  hex: string;
}

/**
 * Parses and validates a digest: the OCI grammar, a supported algorithm and
 * lower-case hex of the right length.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDigest } from "./digest.ts";
 * const d = parseDigest("sha256:" + "a".repeat(64));
 * assert.deepEqual(d.algorithm, "sha256");
 * ```
 */
export function parseDigest(s: string): ParsedDigest {
  if (!GRAMMAR.test(s)) throw new InvalidDigestError(`invalid digest ${JSON.stringify(s)}`);
  const colon = s.indexOf(":");
  const algorithm = s.slice(0, colon);
  const hex = s.slice(colon + 1);
  if (algorithm !== "sha256" && algorithm !== "sha512") {
    throw new InvalidDigestError(`unsupported digest algorithm in ${JSON.stringify(s)}`);
  }
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    throw new InvalidDigestError(`invalid ${algorithm} digest ${JSON.stringify(s)}`);
  }
  return { algorithm, hex };
}

/**
 * Tells whether `s` is a valid, supported digest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDigest } from "./digest.ts";
 * assert.equal(isDigest("sha256:abc"), false);
 * ```
 */
export function isDigest(s: string): boolean {
  try {
    parseDigest(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * Computes the digest of bytes held in memory (manifests, configs).
 *
 * @example
 * ```ts
 * import { computeDigest } from "./digest.ts";
 * console.log(computeDigest(new TextEncoder().encode("")));
 * // "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
 * ```
 */
export function computeDigest(bytes: Uint8Array, algorithm: DigestAlgorithm = "sha256"): Digest {
  const hash = newHash(algorithm, bytes.byteLength);
  hash.update(bytes);
  return `${algorithm}:${hash.hex()}`;
}

/**
 * Computes the digest of bytes held in memory with the runtime's native
 * hashing (WebCrypto): for code that can wait, faster than
 * {@linkcode computeDigest} on a cold start, and without `node:crypto`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { digestOf } from "./digest.ts";
 * assert.equal(
 *   await digestOf(new TextEncoder().encode("")),
 *   "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
 * );
 * ```
 */
export async function digestOf(
  bytes: Uint8Array,
  algorithm: DigestAlgorithm = "sha256",
): Promise<Digest> {
  const name = algorithm === "sha256" ? "SHA-256" : "SHA-512";
  const hash = new Uint8Array(await crypto.subtle.digest(name, bytes as Uint8Array<ArrayBuffer>));
  let hex = "";
  for (const b of hash) hex += (b < 16 ? "0" : "") + b.toString(16);
  return `${algorithm}:${hex}`;
}

/**
 * A running hash over a stream of chunks, for code that must check content
 * arriving in several pieces (a resumed download, say).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Digester } from "./digest.ts";
 * const d = new Digester("sha256");
 * d.update(new Uint8Array([1, 2]));
 * assert.deepEqual(d.size, 2);
 * assert.equal(d.digest().startsWith("sha256:"), true);
 * ```
 */
export class Digester {
  #hash: HashState | undefined;
  /** Small content is kept and hashed at the end, natively when the caller can wait. */
  #kept: Uint8Array[] | undefined;
  #algorithm: DigestAlgorithm;
  /** Bytes seen so far. */
  size = 0;
  /**
   * Starts an empty hash. Give `expectedSize` when known: small content is
   * then hashed without loading `node:crypto`.
   */
  constructor(algorithm: DigestAlgorithm = "sha256", expectedSize?: number) {
    this.#algorithm = algorithm;
    if (expectedSize !== undefined && expectedSize <= SMALL_CONTENT) this.#kept = [];
    else this.#hash = newHash(algorithm, expectedSize);
  }
  /** Adds bytes to the hash. */
  update(chunk: Uint8Array): void {
    this.size += chunk.byteLength;
    if (this.#kept && this.size <= SMALL_CONTENT) {
      this.#kept.push(chunk.slice());
      return;
    }
    if (!this.#hash) {
      // More than the size announced: hash it all the usual way.
      this.#hash = newHash(this.#algorithm, undefined);
      for (const k of this.#kept ?? []) this.#hash.update(k);
      this.#kept = undefined;
    }
    this.#hash.update(chunk);
  }
  /** Finishes the hash; call once. */
  digest(): Digest {
    if (this.#kept) return computeDigest(this.#joined(), this.#algorithm);
    return `${this.#algorithm}:${this.#hash!.hex()}`;
  }
  /** Finishes the hash, natively for small content (see {@linkcode digestOf}); call once. */
  digestAsync(): Promise<Digest> {
    return this.#kept ? digestOf(this.#joined(), this.#algorithm) : Promise.resolve(this.digest());
  }
  #joined(): Uint8Array {
    const kept = this.#kept!;
    if (kept.length === 1) return kept[0];
    const all = new Uint8Array(this.size);
    let at = 0;
    for (const k of kept) {
      all.set(k, at);
      at += k.byteLength;
    }
    return all;
  }
}

/** What a verified stream must add up to. */
export interface Expected {
  /** Digest the bytes must hash to. */
  digest: Digest;
  /** Exact length in bytes, when known. */
  size?: number;
}

/**
 * Checks the outcome of a {@linkcode Digester} against what was expected and
 * throws a {@linkcode DigestMismatchError} naming the content when it differs.
 *
 * @example
 * ```ts
 * import { Digester, verifyDigester } from "./digest.ts";
 * const d = new Digester();
 * verifyDigester(d, { digest: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", size: 0 });
 * ```
 */
export function verifyDigester(d: Digester, expected: Expected): void {
  checkSize(d, expected);
  checkDigest(d.digest(), expected);
}

/**
 * {@linkcode verifyDigester} for code that can wait: small content is hashed
 * natively.
 *
 * @example
 * ```ts
 * import { Digester, verifyDigesterAsync } from "./digest.ts";
 * const d = new Digester("sha256", 0);
 * await verifyDigesterAsync(d, { digest: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", size: 0 });
 * ```
 */
export async function verifyDigesterAsync(d: Digester, expected: Expected): Promise<void> {
  checkSize(d, expected);
  checkDigest(await d.digestAsync(), expected);
}

function checkSize(d: Digester, expected: Expected): void {
  if (expected.size !== undefined && d.size !== expected.size) {
    throw new DigestMismatchError(
      `size mismatch for ${expected.digest}: expected ${expected.size} bytes, got ${d.size}`,
    );
  }
}

function checkDigest(actual: Digest, expected: Expected): void {
  if (actual !== expected.digest) {
    throw new DigestMismatchError(`digest mismatch: expected ${expected.digest}, got ${actual}`);
  }
}

/**
 * A pass-through stream that hashes what flows through it and errors at the
 * end (or as soon as the size is exceeded) when the content is not what was
 * expected. Downstream must not commit anything before this stream closes.
 *
 * @example
 * ```ts
 * import { verifyingStream } from "./digest.ts";
 * const body = new Blob([]).stream().pipeThrough(verifyingStream({
 *   digest: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
 *   size: 0,
 * }));
 * await new Response(body).arrayBuffer();
 * ```
 */
export function verifyingStream(expected: Expected): TransformStream<Uint8Array, Uint8Array> {
  const { algorithm } = parseDigest(expected.digest);
  const d = new Digester(algorithm, expected.size);
  return new TransformStream({
    transform(chunk, controller) {
      d.update(chunk);
      if (expected.size !== undefined && d.size > expected.size) {
        throw new DigestMismatchError(
          `size mismatch for ${expected.digest}: more than ${expected.size} bytes`,
        );
      }
      controller.enqueue(chunk);
    },
    flush() {
      verifyDigester(d, expected);
    },
  });
}
