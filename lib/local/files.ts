/**
 * Content on local disk, shared by every file-based transport (OCI layouts,
 * archives, `dir:`): reading a file (or a byte range of one) as a stream
 * verified against its descriptor, writing content to a temporary file that
 * becomes visible by rename only once its digest checks out, and replacing
 * small files atomically.
 *
 * @module
 */
import { joinPath as join, parentDir as dirname } from "../path.ts";
import { Digester, type Expected, parseDigest, verifyDigester } from "../digest.ts";
import { DigestMismatchError, DtoolError, NotFoundError } from "../errors.ts";
import type { ContentWriter, FetchOptions } from "../remotes/remotes.ts";
import { countedBody, offerRawBody, PASSTHROUGH_MIN_SIZE } from "../remotes/passthrough.ts";

/** Bytes read from disk at a time: few chunks per blob, each one allocation. */
const READ_CHUNK = 1024 * 1024;

/** Where a verified read comes from. */
export interface FileRange {
  /** The file. */
  path: string;
  /** First byte of the content in the file (an archive member); default 0. */
  offset?: number;
  /** What the content is called in errors, e.g. `blob sha256:… in oci:/x`. */
  label?: string;
}

/**
 * Reads content from a file as a stream that hashes it on the way and errors
 * (naming the content) when its size or digest is not the descriptor's.
 * A consumer must not commit anything before the stream closes. A large
 * whole file of the descriptor's size is also offered unread to a registry
 * pusher, which has the registry check its digest (see passthrough.ts).
 *
 * @example
 * ```ts
 * import { verifiedFileStream } from "./files.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "");
 * const s = await verifiedFileStream({ path }, {
 *   digest: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
 *   size: 0,
 * });
 * console.log((await new Response(s).arrayBuffer()).byteLength); // 0
 * ```
 */
export async function verifiedFileStream(
  range: FileRange,
  expected: Expected & { size: number },
  options: FetchOptions = {},
): Promise<ReadableStream<Uint8Array>> {
  const label = range.label ?? expected.digest;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(range.path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new NotFoundError(`${label}: not found`);
    throw new DtoolError(`${label}: ${(e as Error).message}`, undefined, { cause: e });
  }
  if (range.offset) await file.seek(range.offset, Deno.SeekMode.Start);
  const digester = new Digester(parseDigest(expected.digest).algorithm);
  let closed = false;
  let started = false;
  const close = () => {
    if (!closed) file.close();
    closed = true;
  };
  const fail = (e: unknown) => {
    close();
    options.onError?.(e);
    return e;
  };
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      started = true;
      try {
        options.signal?.throwIfAborted();
        const left = expected.size - digester.size;
        const buf = new Uint8Array(Math.min(READ_CHUNK, Math.max(left, 1)));
        const n = left > 0 ? await file.read(buf) : null;
        if (n === null || n === 0) {
          close();
          try {
            verifyDigester(digester, expected);
          } catch (e) {
            throw new DigestMismatchError(`${label}: ${(e as Error).message}`, { cause: e });
          }
          controller.close();
          return;
        }
        const chunk = buf.subarray(0, n);
        digester.update(chunk);
        controller.enqueue(chunk);
        options.onProgress?.(digester.size);
      } catch (e) {
        throw fail(e);
      }
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
  if (!range.offset && expected.size >= PASSTHROUGH_MIN_SIZE) {
    const size = await file.stat().then((info) => info.size, (e) => {
      close();
      throw new DtoolError(`${label}: ${(e as Error).message}`, undefined, { cause: e });
    });
    if (size === expected.size) {
      offerRawBody(stream, () => {
        if (started || closed) return undefined;
        // The file is the raw body's now: it closes the file when read to the end or cancelled.
        closed = true;
        return options.onProgress ? countedBody(file.readable, options.onProgress) : file.readable;
      });
    }
  }
  return stream;
}

/** A unique temporary name beside `dir`'s other files, found and swept by {@linkcode sweepTemporary}. */
export function temporaryPath(dir: string): string {
  return join(dir, `.dtool-${crypto.randomUUID()}.tmp`);
}

/**
 * Removes temporary files that an interrupted write left in `dir`: those
 * older than `maxAgeMs` (a write in progress keeps touching its file).
 */
export async function sweepTemporary(dir: string, maxAgeMs = 60 * 60 * 1000): Promise<void> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !/^\.dtool-.*\.tmp$/.test(entry.name)) continue;
      const path = join(dir, entry.name);
      const info = await Deno.stat(path).catch(() => undefined);
      if (info?.mtime && Date.now() - info.mtime.getTime() > maxAgeMs) {
        await Deno.remove(path).catch(() => {});
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/**
 * Writes `bytes` to `path` through a temporary file and a rename, so readers
 * see the old content or the new, never part of it.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/index.json`, new TextEncoder().encode("{}"));
 * console.log(await Deno.readTextFile(`${dir}/index.json`)); // "{}"
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = temporaryPath(dirname(path));
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * A {@linkcode ContentWriter} that writes to a temporary file in `tmpDir`
 * while hashing, and on commit checks size and digest, then renames the
 * file to `finalPath`. Content that does not verify never appears there.
 *
 * @example
 * ```ts
 * import { verifiedFileWriter } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * const w = await verifiedFileWriter(dir, `${dir}/empty`, {
 *   digest: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
 *   size: 0,
 * });
 * await new Blob([]).stream().pipeTo(w.writable);
 * await w.commit();
 * console.log((await Deno.stat(`${dir}/empty`)).size); // 0
 * ```
 */
export async function verifiedFileWriter(
  tmpDir: string,
  finalPath: string,
  expected: Expected,
  options: { label?: string; signal?: AbortSignal } = {},
): Promise<ContentWriter> {
  const label = options.label ?? expected.digest;
  const tmp = temporaryPath(tmpDir);
  const file = await Deno.open(tmp, { write: true, createNew: true });
  const digester = new Digester(parseDigest(expected.digest).algorithm);
  let open = true;
  const discard = async () => {
    if (open) file.close();
    open = false;
    await Deno.remove(tmp).catch(() => {});
  };
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      options.signal?.throwIfAborted();
      digester.update(chunk);
      if (expected.size !== undefined && digester.size > expected.size) {
        throw new DigestMismatchError(`${label}: more than ${expected.size} bytes`);
      }
      let at = 0;
      while (at < chunk.byteLength) at += await file.write(chunk.subarray(at));
    },
    async abort() {
      await discard();
    },
  });
  return {
    writable,
    async commit() {
      try {
        if (!open) throw new DtoolError(`${label}: write was abandoned`);
        file.close();
        open = false;
        try {
          verifyDigester(digester, expected);
        } catch (e) {
          throw new DigestMismatchError(`${label}: ${(e as Error).message}`, { cause: e });
        }
        await Deno.mkdir(dirname(finalPath), { recursive: true });
        await Deno.rename(tmp, finalPath);
      } catch (e) {
        await discard();
        throw e;
      }
    },
  };
}
