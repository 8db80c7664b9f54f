/**
 * Timers for the HTTP layer that a command-line run can have without loading
 * `node:timers`: in Deno 2.9 the global `setTimeout` is Node's, and touching
 * it first costs a short command ~10 ms of start-up. `AbortSignal.timeout`
 * does not load it, but its timer cannot be cancelled, so it holds the event
 * loop open until it fires: right for a process that ends with `Deno.exit`
 * (the `dtool` command), wrong for a library. So it is opt-in, once per
 * process, by the command-line entry point.
 *
 * @module
 */

/** Stops a timer; calling it again does nothing. */
export type Cancel = () => void;

let exitingProcess = false;

/**
 * Declares that this process ends with `Deno.exit`: timers no longer load
 * `node:timers`, and a cancelled one may stay pending until it would fire.
 *
 * @example
 * ```ts ignore
 * import { useExitingProcessTimers } from "./timers.ts";
 * useExitingProcessTimers();
 * Deno.exit(await main(Deno.args));
 * ```
 */
export function useExitingProcessTimers(): void {
  exitingProcess = true;
}

/**
 * Calls `fn` once after `ms` milliseconds unless cancelled first.
 *
 * @example
 * ```ts
 * import { after } from "./timers.ts";
 * let fired = false;
 * const cancel = after(10_000, () => fired = true);
 * cancel();
 * if (fired) throw new Error("a cancelled timer fired");
 * ```
 */
export function after(ms: number, fn: () => void): Cancel {
  if (!exitingProcess) {
    const id = setTimeout(fn, ms);
    return () => clearTimeout(id);
  }
  let live = true;
  AbortSignal.timeout(ms).addEventListener("abort", () => live && fn(), { once: true });
  return () => live = false;
}

/**
 * Calls `fn` every `ms` milliseconds until cancelled.
 *
 * @example
 * ```ts
 * import { every } from "./timers.ts";
 * let ticks = 0;
 * const cancel = every(5, () => ticks++);
 * await new Promise((r) => setTimeout(r, 40));
 * cancel();
 * if (ticks === 0) throw new Error("no tick");
 * ```
 */
export function every(ms: number, fn: () => void): Cancel {
  if (!exitingProcess) {
    const id = setInterval(fn, ms);
    return () => clearInterval(id);
  }
  let stopped = false;
  let cancel = after(ms, function tick() {
    fn();
    // `fn` may have stopped the timer itself.
    if (!stopped) cancel = after(ms, tick);
  });
  return () => {
    stopped = true;
    cancel();
  };
}
