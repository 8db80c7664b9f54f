/**
 * Writing a tar archive once, sequentially, into a temporary file beside
 * its destination, renamed into place only when the archive is complete.
 * Members arrive concurrently (the copy engine moves several blobs at once)
 * and are written one at a time: header, data, padding. A member whose
 * data fails or does not verify is cut off again (the file is truncated
 * back to where its header began), so a retry can write it afresh and the
 * archive never holds a partial member.
 *
 * Headers are encoded by node-tar's `Header` (and `Pax` when a name or size
 * does not fit ustar); positions are ours.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { parentDir as dirname } from "../path.ts";
import { Header, Pax } from "./tar_deps.ts";
import { Digester, type Expected, parseDigest, verifyDigester } from "../digest.ts";
import { DigestMismatchError, DtoolError } from "../errors.ts";
import { sweepTemporary, temporaryPath } from "../local/files.ts";
import { BLOCK } from "./tar_index.ts";

/** Fixed member times keep archives of the same content byte-identical. */
const MTIME = new Date(0);

/**
 * A tar file being written; `finish()` makes it appear at its destination,
 * `discard()` removes it and leaves the destination as it was.
 *
 * @example
 * ```ts
 * import { TarWriter } from "./tar_writer.ts";
 * const dir = await Deno.makeTempDir();
 * const w = await TarWriter.create(`${dir}/out.tar`);
 * await w.addBytes("hello.txt", new TextEncoder().encode("hi"));
 * await w.finish();
 * console.log((await Deno.stat(`${dir}/out.tar`)).size); // 2048
 * ```
 */
export class TarWriter {
  /** The destination path. */
  readonly path: string;
  #tmp: string;
  #file: Deno.FsFile;
  #pos = 0;
  #queue: Promise<void> = Promise.resolve();
  #state: "open" | "finished" | "discarded" = "open";
  #names = new Set<string>();

  private constructor(path: string, tmp: string, file: Deno.FsFile) {
    this.path = path;
    this.#tmp = tmp;
    this.#file = file;
  }

  /** Starts a new archive for `path` (its directory must exist). */
  static async create(path: string): Promise<TarWriter> {
    // What an interrupted write left beside the destination goes first.
    await sweepTemporary(dirname(path));
    const tmp = temporaryPath(dirname(path));
    let file: Deno.FsFile;
    try {
      file = await Deno.open(tmp, { write: true, createNew: true });
    } catch (e) {
      throw new DtoolError(`cannot write ${path}: ${(e as Error).message}`, undefined, {
        cause: e,
      });
    }
    return new TarWriter(path, tmp, file);
  }

  /** True when a member named `name` has been written. */
  has(name: string): boolean {
    return this.#names.has(name);
  }

  /** Writes a small member from memory. */
  addBytes(name: string, bytes: Uint8Array): Promise<void> {
    return this.#exclusive(async () => {
      const start = this.#pos;
      try {
        await this.#write(header(name, bytes.byteLength));
        await this.#write(bytes);
        await this.#write(padding(bytes.byteLength));
      } catch (e) {
        await this.#rewind(start);
        throw e;
      }
      this.#names.add(name);
    });
  }

  /**
   * Writes a member whose data comes from `source`, which must be the
   * content `expected` describes (size and digest are checked before the
   * member counts as written; otherwise it is cut off again).
   */
  addStream(
    name: string,
    expected: Expected & { size: number },
    source: ReadableStream<Uint8Array>,
    options: { label?: string; signal?: AbortSignal } = {},
  ): Promise<void> {
    const label = options.label ?? name;
    return this.#exclusive(async () => {
      const start = this.#pos;
      const digester = new Digester(parseDigest(expected.digest).algorithm);
      try {
        options.signal?.throwIfAborted();
        await this.#write(header(name, expected.size));
        for await (const chunk of source) {
          options.signal?.throwIfAborted();
          digester.update(chunk);
          if (digester.size > expected.size) {
            throw new DigestMismatchError(`${label}: more than ${expected.size} bytes`);
          }
          await this.#write(chunk);
        }
        try {
          verifyDigester(digester, expected);
        } catch (e) {
          throw new DigestMismatchError(`${label}: ${(e as Error).message}`, { cause: e });
        }
        await this.#write(padding(expected.size));
      } catch (e) {
        await source.cancel().catch(() => {});
        await this.#rewind(start);
        throw e;
      }
      this.#names.add(name);
    });
  }

  /** Ends the archive and renames it to its destination. */
  finish(): Promise<void> {
    return this.#exclusive(async () => {
      await this.#write(new Uint8Array(2 * BLOCK));
      // No fsync: like the layout's blobs (and skopeo), the rename is the commit point; a sync
      // of a whole archive costs seconds of waiting on the disk.
      this.#file.close();
      this.#state = "finished";
      try {
        await Deno.rename(this.#tmp, this.path);
      } catch (e) {
        await Deno.remove(this.#tmp).catch(() => {});
        throw new DtoolError(`cannot write ${this.path}: ${(e as Error).message}`, undefined, {
          cause: e,
        });
      }
    });
  }

  /** Drops the archive being written; the destination is left as it was. */
  async discard(): Promise<void> {
    if (this.#state !== "open") return;
    this.#state = "discarded";
    await this.#queue.catch(() => {});
    try {
      this.#file.close();
    } catch { /* already closed */ }
    await Deno.remove(this.#tmp).catch(() => {});
  }

  /** Runs `fn` after every member queued before it: one member is written at a time. */
  #exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(() => {
      if (this.#state !== "open") throw new DtoolError(`${this.path}: the archive is closed`);
      return fn();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.byteLength) at += await this.#file.write(bytes.subarray(at));
    this.#pos += bytes.byteLength;
  }

  /** Cuts the file back to `pos` (where a failed member's header began). */
  async #rewind(pos: number): Promise<void> {
    if (this.#pos === pos) return;
    await this.#file.truncate(pos);
    await this.#file.seek(pos, Deno.SeekMode.Start);
    this.#pos = pos;
  }
}

/** The header block(s) of a regular file: ustar, preceded by pax data when needed. */
function header(name: string, size: number): Uint8Array {
  const fields = {
    path: name,
    size,
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtime: MTIME,
    type: "File" as const,
  };
  const h = new Header(fields);
  const block = Buffer.alloc(BLOCK);
  if (!h.encode(block, 0)) return block;
  const pax = new Pax({ path: name, size }).encode();
  return Buffer.concat([pax, block]);
}

function padding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}
