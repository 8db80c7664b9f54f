/**
 * Reading a whole manifest through the remotes interfaces, with the
 * one-request shortcut where a resolver offers it.
 *
 * @module
 */
import { DtoolError } from "../errors.ts";
import {
  type Descriptor,
  MAX_MANIFEST_BYTES,
  type ParsedManifest,
  parseManifest,
} from "../manifest.ts";
import type { Fetcher, Resolver } from "./remotes.ts";

/** A resolver that can GET a manifest by reference in one request. */
export interface ManifestGetter {
  /** The parsed manifest a reference names, its bytes verified. */
  getManifest(ref: string): Promise<ParsedManifest>;
}

function hasGetManifest(r: unknown): r is ManifestGetter {
  return typeof (r as ManifestGetter).getManifest === "function";
}

/**
 * Reads a stream of at most `limit` bytes into memory (manifests, configs);
 * a longer one fails with `tooLarge(limit)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readAll } from "./manifest_source.ts";
 * const bytes = await readAll(new Blob(["{}"]).stream());
 * assert.deepEqual(bytes.byteLength, 2);
 * ```
 */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
  limit = MAX_MANIFEST_BYTES,
  tooLarge: (limit: number) => Error = (n) => new DtoolError(`content larger than ${n} bytes`),
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Fetches and parses the manifest a descriptor names.
 *
 * @example
 * ```ts
 * import { fetchManifest } from "./manifest_source.ts";
 * // const m = await fetchManifest(fetcher, descriptor);
 * ```
 */
export async function fetchManifest(fetcher: Fetcher, desc: Descriptor): Promise<ParsedManifest> {
  return parseManifest(await readAll(await fetcher.fetch(desc)), desc.mediaType);
}

/**
 * The manifest a reference names: one GET where the resolver can, else a
 * resolve and a fetch.
 *
 * @example
 * ```ts
 * import { getManifest } from "./manifest_source.ts";
 * // const m = await getManifest(resolver, "localhost:5000/app:1");
 * ```
 */
export async function getManifest(resolver: Resolver, ref: string): Promise<ParsedManifest> {
  if (hasGetManifest(resolver)) return await resolver.getManifest(ref);
  const { descriptor } = await resolver.resolve(ref);
  return await fetchManifest(await resolver.fetcher(ref), descriptor);
}
