/**
 * Progress of a whole sync on stderr: on a terminal a bar per image in
 * flight and a total; elsewhere one line per finished image and a total
 * every 5 s (no per-blob chatter); with `json` one event per image start
 * and finish.
 *
 * @module
 */
import type { SyncEvent } from "../sync/scheduler.ts";
import { every } from "../timers.ts";
import { bar, fitLine, formatBytes, shortDigest, writeStderr } from "./terminal.ts";

/** How sync progress is shown. */
export type SyncProgressMode = "auto" | "tty" | "plain" | "json" | "none";

/** A listener for sync events, and `close` to stop timers. */
export interface SyncProgress {
  /** Receives events. */
  listener: (e: SyncEvent) => void;
  /** Stops timers and clears bars; call once at the end. */
  close(): void;
}

/** Counts and bytes of the whole sync. */
class SyncTotals {
  copied = 0;
  skipped = 0;
  failed = 0;
  finished = 0;
  moved = 0;
  started = performance.now();
  /** Per image in flight: bytes moved, bytes planned, in-flight blob bytes. */
  images = new Map<string, { moved: number; planned: number; partial: Map<string, number> }>();

  constructor(readonly total: number) {}

  apply(e: SyncEvent): void {
    if (e.type === "image-start") {
      this.images.set(e.source, { moved: 0, planned: 0, partial: new Map() });
    } else if (e.type === "image-done") {
      this.images.delete(e.source);
      this.finished++;
      if (e.status === "copied") this.copied++;
      else if (e.status === "skipped") this.skipped++;
      else if (e.status === "failed") this.failed++;
    } else {
      const img = this.images.get(e.source);
      if (!img) return;
      const ev = e.event;
      if (ev.type === "plan") img.planned = ev.bytes;
      else if (ev.type === "blob-skip") img.planned -= ev.size;
      else if (ev.type === "blob-progress") img.partial.set(ev.digest, ev.bytes);
      else if (ev.type === "blob-start") img.partial.set(ev.digest, 0);
      else if (ev.type === "blob-done") {
        img.partial.delete(ev.digest);
        img.moved += ev.size;
        this.moved += ev.size;
      }
    }
  }

  bytesNow(): number {
    let n = this.moved;
    for (const img of this.images.values()) for (const b of img.partial.values()) n += b;
    return n;
  }

  line(): string {
    const secs = (performance.now() - this.started) / 1000;
    const bytes = this.bytesNow();
    return `${this.finished}/${this.total} images (${this.copied} copied, ${this.skipped} skipped, ${this.failed} failed), ${
      formatBytes(bytes)
    }, ${formatBytes(secs > 0 ? bytes / secs : 0)}/s, ${secs.toFixed(1)}s`;
  }
}

/**
 * One line for a finished image, as plain and TTY modes print it.
 *
 * @example
 * ```ts
 * import { describeImage } from "./sync_progress.ts";
 * console.log(describeImage({
 *   type: "image-done", source: "h/a:1", destination: "d/a:1", status: "skipped",
 *   digest: "sha256:" + "a".repeat(64), bytes: 0, elapsedMs: 3,
 * })); // "Skipped h/a:1: d/a:1 is current (aaaaaaaaaaaa)"
 * ```
 */
export function describeImage(e: Extract<SyncEvent, { type: "image-done" }>): string {
  switch (e.status) {
    case "copied":
      return `Copied ${e.source} -> ${e.destination} (${shortDigest(e.digest)}, ${
        formatBytes(e.bytes)
      })`;
    case "skipped":
      return `Skipped ${e.source}: ${e.destination} is current (${shortDigest(e.digest)})`;
    case "failed":
      return `Failed ${e.source} -> ${e.destination}: ${e.reason}`;
    case "stopped":
      return `Stopped ${e.source}: the sync stopped after a failure`;
    case "planned": {
      const p = e.plan!;
      const present = p.present === undefined
        ? ""
        : `, ${p.present} (${formatBytes(p.presentBytes ?? 0)}) already there`;
      return `Would copy ${e.source} -> ${e.destination} (${
        shortDigest(e.digest)
      }): ${p.manifests} manifest(s), ${p.blobs} blob(s), ${formatBytes(p.bytes)}${present}`;
    }
  }
}

function plain(totals: SyncTotals): SyncProgress {
  // lib/timers.ts: the global setInterval would load node:timers (~10 ms of start-up).
  const stop = every(5000, () => writeStderr(`Progress: ${totals.line()}\n`));
  return {
    listener(e) {
      totals.apply(e);
      if (e.type === "image-done" && e.status !== "planned") writeStderr(describeImage(e) + "\n");
    },
    close: stop,
  };
}

function json(): SyncProgress {
  return {
    listener(e) {
      if (e.type === "copy") return;
      writeStderr(JSON.stringify(e) + "\n");
    },
    close() {},
  };
}

const MAX_BARS = 12;

function tty(totals: SyncTotals): SyncProgress {
  let drawn = 0;
  const clear = () => {
    let out = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (let i = 0; i < drawn; i++) out += "\x1b[2K\n";
    if (drawn > 0) out += `\x1b[${drawn}A`;
    drawn = 0;
    return out;
  };
  const draw = () => {
    const lines: string[] = [];
    for (const [source, img] of [...totals.images].slice(0, MAX_BARS)) {
      let moved = img.moved;
      for (const b of img.partial.values()) moved += b;
      const f = img.planned > 0 ? moved / img.planned : 0;
      lines.push(
        `${source} [${bar(f, 20)}] ${formatBytes(moved)} / ${
          formatBytes(Math.max(img.planned, moved))
        }`,
      );
    }
    lines.push(`Total ${totals.line()}`);
    let out = clear();
    for (const l of lines) out += `\x1b[2K${fitLine(l)}\n`;
    drawn = lines.length;
    writeStderr(out);
  };
  const stop = every(150, draw);
  return {
    listener(e) {
      totals.apply(e);
      if (e.type === "image-done" && e.status !== "planned") {
        writeStderr(clear() + fitLine(describeImage(e)) + "\n");
      }
    },
    close() {
      stop();
      draw();
    },
  };
}

/**
 * A sync progress renderer for `total` images; `auto` picks bars on a
 * terminal, lines elsewhere.
 *
 * @example
 * ```ts
 * import { syncProgress } from "./sync_progress.ts";
 * const p = syncProgress("none", 3);
 * p.close();
 * ```
 */
export function syncProgress(mode: SyncProgressMode, total: number): SyncProgress {
  const m = mode === "auto" ? (Deno.stderr.isTerminal() ? "tty" : "plain") : mode;
  if (m === "none") return { listener() {}, close() {} };
  if (m === "json") return json();
  const totals = new SyncTotals(total);
  return m === "tty" ? tty(totals) : plain(totals);
}
