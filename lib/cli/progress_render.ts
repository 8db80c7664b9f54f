/**
 * Progress on stderr, three ways: bars on a terminal, plain lines elsewhere,
 * or one JSON event per line. Nothing here goes to stdout.
 *
 * @module
 */
import type { ProgressEvent, ProgressListener } from "../progress.ts";
import { every } from "../timers.ts";
import { bar, fitLine, formatBytes, shortDigest, writeStderr } from "./terminal.ts";

/** How progress is shown. */
export type ProgressMode = "auto" | "tty" | "plain" | "json" | "none";

/** A listener plus a `close` that stops timers and draws the last state. */
export interface ProgressRenderer {
  /** Receives events. */
  listener: ProgressListener;
  /** Stops timers; call once when the copy ends. */
  close(): void;
}

/** Totals every renderer keeps. */
class Totals {
  bytesDone = 0;
  bytesPlanned = 0;
  blobsPlanned = 0;
  blobsFinished = 0;
  started = performance.now();
  inFlight = new Map<string, { bytes: number; size: number; started: number }>();

  apply(e: ProgressEvent): void {
    switch (e.type) {
      case "plan":
        this.bytesPlanned = e.bytes;
        this.blobsPlanned = e.blobs;
        break;
      case "blob-start":
        this.inFlight.set(e.digest, { bytes: 0, size: e.size, started: performance.now() });
        break;
      case "blob-progress": {
        const b = this.inFlight.get(e.digest);
        if (b) b.bytes = e.bytes;
        break;
      }
      case "blob-done":
        this.inFlight.delete(e.digest);
        this.bytesDone += e.size;
        this.blobsFinished++;
        break;
      case "blob-skip":
        this.bytesPlanned -= e.size;
        this.blobsFinished++;
        break;
    }
  }

  moved(): number {
    let n = this.bytesDone;
    for (const b of this.inFlight.values()) n += b.bytes;
    return n;
  }

  line(): string {
    const secs = (performance.now() - this.started) / 1000;
    const moved = this.moved();
    const speed = secs > 0 ? moved / secs : 0;
    return `${this.blobsFinished}/${this.blobsPlanned} blobs, ${formatBytes(moved)} / ${
      formatBytes(Math.max(this.bytesPlanned, moved))
    }, ${formatBytes(speed)}/s, ${secs.toFixed(1)}s`;
  }
}

function describe(e: ProgressEvent): string | undefined {
  switch (e.type) {
    case "resolved":
      return `Resolved ${e.source} to ${e.digest}`;
    case "blob-start":
      return `Copying blob ${shortDigest(e.digest)} (${formatBytes(e.size)})${
        e.attempt > 1 ? `, attempt ${e.attempt}` : ""
      }`;
    case "blob-skip":
      return e.reason === "exists"
        ? `Skipping blob ${shortDigest(e.digest)}: already exists`
        : `Mounted blob ${shortDigest(e.digest)}`;
    case "blob-done":
      return `Copied blob ${shortDigest(e.digest)}`;
    case "retry":
      return `Retrying ${shortDigest(e.digest)} after attempt ${e.attempt}: ${e.reason}`;
    case "manifest":
      return e.skipped
        ? `Manifest ${shortDigest(e.digest)} already at destination`
        : `Wrote manifest ${shortDigest(e.digest)}${e.tag ? ` as ${e.tag}` : ""}`;
    case "warning":
      return `Warning: ${e.message}`;
    default:
      return undefined;
  }
}

function plain(): ProgressRenderer {
  const totals = new Totals();
  // lib/timers.ts: the global setInterval would load node:timers (~10 ms of start-up).
  const stop = every(5000, () => writeStderr(`Progress: ${totals.line()}\n`));
  return {
    listener(e) {
      totals.apply(e);
      const text = describe(e);
      if (text) writeStderr(text + "\n");
      if (e.type === "done") writeStderr(`Done: ${totals.line()}\n`);
    },
    close: stop,
  };
}

function json(): ProgressRenderer {
  return {
    listener: (e) => writeStderr(JSON.stringify(e) + "\n"),
    close() {},
  };
}

function tty(): ProgressRenderer {
  const totals = new Totals();
  let drawn = 0;
  const draw = () => {
    const lines: string[] = [];
    for (const [digest, b] of totals.inFlight) {
      const secs = (performance.now() - b.started) / 1000;
      const speed = secs > 0 ? b.bytes / secs : 0;
      lines.push(
        `${shortDigest(digest)} [${bar(b.size ? b.bytes / b.size : 1, 30)}] ${
          formatBytes(b.bytes)
        } / ${formatBytes(b.size)} ${formatBytes(speed)}/s`,
      );
    }
    lines.push(`Total ${totals.line()}`);
    let out = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const l of lines) out += `\x1b[2K${fitLine(l)}\n`;
    for (let i = lines.length; i < drawn; i++) out += "\x1b[2K\n";
    if (drawn > lines.length) out += `\x1b[${drawn - lines.length}A`;
    drawn = lines.length;
    writeStderr(out);
  };
  const stop = every(150, draw);
  return {
    listener(e) {
      totals.apply(e);
      if (e.type === "blob-progress") return;
      const text = e.type === "blob-start" ? undefined : describe(e);
      if (text) {
        // Print the event above the bars, then redraw them.
        let out = drawn > 0 ? `\x1b[${drawn}A` : "";
        out += `\x1b[2K${fitLine(text)}\n`;
        for (let i = 1; i < drawn; i++) out += "\x1b[2K\n";
        if (drawn > 1) out += `\x1b[${drawn - 1}A`;
        drawn = 0;
        writeStderr(out);
      }
      if (e.type === "done") draw();
    },
    close: stop,
  };
}

/**
 * A renderer for a mode; `auto` picks bars on a terminal, lines elsewhere.
 *
 * @example
 * ```ts
 * import { progressRenderer } from "./progress_render.ts";
 * const r = progressRenderer("json");
 * r.listener({ type: "warning", message: "hello" });
 * r.close();
 * ```
 */
export function progressRenderer(mode: ProgressMode): ProgressRenderer {
  const m = mode === "auto" ? (Deno.stderr.isTerminal() ? "tty" : "plain") : mode;
  if (m === "none") return { listener() {}, close() {} };
  if (m === "json") return json();
  if (m === "tty") return tty();
  return plain();
}
