/**
 * A blob's bytes need not pass through JavaScript on their way to a
 * registry: Deno can send a fetch response body, or a file's stream, as a
 * request body by itself, which copies a GiB with a fifth of the CPU and a
 * third of the memory. A fetcher (a registry's, or a layout's for a whole
 * blob file) offers the raw body behind its verifying stream; the registry
 * pusher takes it for its PUT.
 *
 * Verification then moves, and nothing is lost: a body is offered only when
 * its length is the descriptor's size (the response's Content-Length, the
 * file's size); the registry checks the digest of what it receives against
 * `PUT ?digest=` (the distribution spec requires it) and refuses the blob
 * otherwise; and the pusher checks the digest the registry reports. A failed
 * transfer is retried by the copy engine as any other.
 *
 * @module
 */

/**
 * Blobs at least this large are offered unread. Smaller ones cost little
 * either way and keep the resuming, self-verifying path.
 */
export const PASSTHROUGH_MIN_SIZE = 8 * 1024 * 1024;

const OFFERS = new WeakMap<
  ReadableStream<Uint8Array>,
  () => ReadableStream<Uint8Array> | undefined
>();

/**
 * Offers the raw body behind a verifying stream: `take` returns it when
 * nothing has been read through the verifying stream yet.
 *
 * @example
 * ```ts
 * import { offerRawBody, takeRawBody } from "./passthrough.ts";
 * const raw = new Blob(["abc"]).stream();
 * const verifying = new ReadableStream<Uint8Array>();
 * offerRawBody(verifying, () => raw);
 * if (takeRawBody(verifying) !== raw || takeRawBody(verifying) !== undefined) throw new Error();
 * ```
 */
export function offerRawBody(
  stream: ReadableStream<Uint8Array>,
  take: () => ReadableStream<Uint8Array> | undefined,
): void {
  OFFERS.set(stream, take);
}

/**
 * The raw body offered for `stream`, once; `undefined` when none was offered
 * or it can no longer be taken. After taking it, do not read `stream`.
 */
export function takeRawBody(
  stream: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> | undefined {
  const take = OFFERS.get(stream);
  OFFERS.delete(stream);
  return take?.();
}

/**
 * The body as it is, with `onProgress` told the bytes read so far: one
 * stream stage that neither copies nor hashes, for a body that goes through
 * JavaScript only to be counted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countedBody } from "./passthrough.ts";
 * const seen: number[] = [];
 * const body = countedBody(new Blob(["abc", "de"]).stream(), (n) => seen.push(n));
 * assert.equal(await new Response(body).text(), "abcde");
 * assert.equal(seen.at(-1), 5);
 * ```
 */
export function countedBody(
  body: ReadableStream<Uint8Array>,
  onProgress: (bytes: number) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let bytes = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      bytes += value.byteLength;
      controller.enqueue(value);
      onProgress(bytes);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}
