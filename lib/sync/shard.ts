/**
 * Splitting a sync between N workers with no coordinator: each image
 * belongs to the shard a stable hash of its source reference picks, so
 * every worker of a CI matrix or an indexed Kubernetes Job agrees.
 *
 * @module
 */
import { Sha256 } from "../sha256.ts";
import { UsageError } from "../errors.ts";

/** One worker's share: shard `index` (from 0) of `count`. */
export interface Shard {
  /** This worker's shard, 0 … count-1. */
  index: number;
  /** Shards in all. */
  count: number;
}

/**
 * Parses `--shard I/N` (I from 0, as `JOB_COMPLETION_INDEX` counts) or
 * `auto/N`, which takes I from `JOB_COMPLETION_INDEX` in `env`.
 *
 * @example
 * ```ts
 * import { parseShard } from "./shard.ts";
 * console.log(parseShard("1/3")); // { index: 1, count: 3 }
 * console.log(parseShard("auto/3", { JOB_COMPLETION_INDEX: "2" })); // { index: 2, count: 3 }
 * ```
 */
export function parseShard(value: string, env: Record<string, string | undefined> = {}): Shard {
  const m = value.trim().match(/^(auto|\d+)\/(\d+)$/);
  if (!m) throw new UsageError(`--shard ${value}: expected I/N or auto/N, e.g. 0/3`);
  const count = Number(m[2]);
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new UsageError(`--shard ${value}: the shard count must be 1 or more`);
  }
  let indexText = m[1];
  if (indexText === "auto") {
    const fromEnv = env.JOB_COMPLETION_INDEX;
    if (fromEnv === undefined || !/^\d+$/.test(fromEnv.trim())) {
      throw new UsageError(
        `--shard ${value}: JOB_COMPLETION_INDEX is ${
          fromEnv === undefined ? "not set" : JSON.stringify(fromEnv)
        }; it must be a shard number from 0`,
      );
    }
    indexText = fromEnv.trim();
  }
  const index = Number(indexText);
  if (index >= count) {
    throw new UsageError(`--shard ${value}: shard ${index} does not exist (0 to ${count - 1})`);
  }
  return { index, count };
}

/**
 * The shard (0 … count-1) of a source reference: the first 48 bits of its
 * SHA-256 modulo the count. Stable across runs, machines and versions.
 *
 * @example
 * ```ts
 * import { shardOf } from "./shard.ts";
 * const s = shardOf("docker://localhost:5000/a:1", 3);
 * console.log(s >= 0 && s < 3); // true
 * ```
 */
export function shardOf(sourceRef: string, count: number): number {
  // TypeScript SHA-256: node:crypto would boot Deno's Node layer for a few short strings.
  const hex = new Sha256().update(new TextEncoder().encode(sourceRef)).hex().slice(0, 12);
  return parseInt(hex, 16) % count;
}

/**
 * True when the image with this source reference is this worker's.
 *
 * @example
 * ```ts
 * import { inShard } from "./shard.ts";
 * console.log(inShard("x", undefined)); // true
 * ```
 */
export function inShard(sourceRef: string, shard: Shard | undefined): boolean {
  return shard === undefined || shardOf(sourceRef, shard.count) === shard.index;
}
