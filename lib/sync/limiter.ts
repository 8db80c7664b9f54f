/**
 * Budgets of work in flight: one {@linkcode Limiter} per store (a registry,
 * a layout), shared by every image a sync copies side by side, so N images
 * in parallel still send at most `--jobs` requests to each registry.
 *
 * @module
 */

/**
 * A counting semaphore; waiters are served first come, first served.
 *
 * @example
 * ```ts
 * import { Limiter } from "./limiter.ts";
 * const limiter = new Limiter(2);
 * console.log(await limiter.run(() => Promise.resolve(42))); // 42
 * ```
 */
export class Limiter {
  /** Slots in all. */
  readonly size: number;
  #free: number;
  #waiting: (() => void)[] = [];

  /** A limiter of `size` slots (at least 1). */
  constructor(size: number) {
    this.size = Math.max(1, size);
    this.#free = this.size;
  }

  /** Waits for a slot; the returned function gives it back (call it once). */
  acquire(): Promise<() => void> {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(release);
    }
    return new Promise((resolve) => this.#waiting.push(() => resolve(release)));
  }

  /** Runs `fn` in a slot. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/**
 * One limiter per store key, made on first use, all of one size.
 *
 * @example
 * ```ts
 * import { Budgets } from "./limiter.ts";
 * const budgets = new Budgets(4);
 * await budgets.run(["docker://a", "docker://b"], () => Promise.resolve());
 * ```
 */
export class Budgets {
  #size: number;
  #limiters = new Map<string, Limiter>();

  /** Budgets of `size` slots per key. */
  constructor(size: number) {
    this.#size = size;
  }

  /** The limiter of `key`. */
  get(key: string): Limiter {
    let l = this.#limiters.get(key);
    if (!l) {
      l = new Limiter(this.#size);
      this.#limiters.set(key, l);
    }
    return l;
  }

  /**
   * Runs `fn` holding a slot of every key's limiter. Slots are taken in
   * sorted key order, so two tasks needing the same two stores can never
   * each hold the one the other waits for.
   */
  async run<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const releases: (() => void)[] = [];
    try {
      for (const key of [...new Set(keys)].sort()) releases.push(await this.get(key).acquire());
      return await fn();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }
}
