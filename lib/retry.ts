/**
 * How long to wait before trying again, and waiting itself: one rule for the
 * HTTP layer and the copy engine, so `--retry-delay` means the same in both.
 *
 * @module
 */

/** The longest wait a doubling backoff grows to. */
const MAX_BACKOFF_MS = 30_000;

/** How retries are spaced. */
export interface RetryDelay {
  /** The first delay in milliseconds. */
  baseMs: number;
  /** Wait `baseMs` every time (skopeo's --retry-delay) instead of doubling it. */
  fixed?: boolean;
}

/**
 * The wait before retry number `attempt` (0 for the first): `baseMs` when
 * fixed, else doubling each time with jitter (between half and all of it),
 * never more than 30 s.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { retryDelay } from "./retry.ts";
 * assert.deepEqual(retryDelay({ baseMs: 1000, fixed: true }, 3), 1000);
 * const d = retryDelay({ baseMs: 100 }, 2); // 200..400
 * assert.equal(d >= 200 && d <= 400, true);
 * ```
 */
export function retryDelay(delay: RetryDelay, attempt: number): number {
  if (delay.fixed) return delay.baseMs;
  const exp = Math.min(MAX_BACKOFF_MS, delay.baseMs * 2 ** attempt);
  return Math.round(exp / 2 + Math.random() * exp / 2);
}

/**
 * Waits `ms`, or until `signal` aborts, then rejects with its reason: a
 * retry never outlives the copy that asked for it.
 *
 * @example
 * ```ts
 * import { sleep } from "./retry.ts";
 * await sleep(1);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
