/**
 * Blob upload sessions of `dtool serve`: each session is a temporary file in
 * the layout (never a blob until its digest is verified) and a running hash,
 * so a chunked upload is hashed once as it arrives. A chunk lands whole or
 * not at all: one that fails midway is cut off again and the hash restored,
 * and the client resumes from the `Range` the session reports. Sessions
 * left idle are removed; a session of a killed server is a temporary file
 * the layout sweeps.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import type { DigestAlgorithm } from "../digest.ts";
import { parseDigest } from "../digest.ts";
import type { OciLayout } from "../oci/layout.ts";
import { RegistryError } from "./errors.ts";

/** Sessions idle this long are removed unless told otherwise. */
const DEFAULT_IDLE_MS = 15 * 60 * 1000;

/** One upload in progress. */
export interface UploadSession {
  /** The session id in its URL. */
  readonly id: string;
  /** The repository it uploads to. */
  readonly repository: string;
  /** Its temporary file. */
  readonly path: string;
  /** Bytes received so far. */
  size: number;
}

interface Session extends UploadSession {
  file: Deno.FsFile;
  hash: Hash;
  busy: boolean;
  touched: number;
}

/** Options of {@linkcode UploadSessions}. */
export interface UploadSessionsOptions {
  /** Remove sessions idle this long (default 15 minutes). */
  idleMs?: number;
}

/**
 * The open upload sessions of one server.
 *
 * @example
 * ```ts
 * import { OciLayout } from "../oci/layout.ts";
 * import { UploadSessions } from "./uploads.ts";
 * const layout = await OciLayout.open(await Deno.makeTempDir(), { create: true });
 * const uploads = new UploadSessions(layout);
 * const s = await uploads.open("app");
 * await uploads.append(s, new Blob(["hi"]).stream());
 * console.log(s.size); // 2
 * await uploads.close();
 * ```
 */
export class UploadSessions {
  #layout: OciLayout;
  #sessions = new Map<string, Session>();
  #idleMs: number;
  #timer: ReturnType<typeof setInterval>;

  /** Sessions kept in `layout`'s temporary files. */
  constructor(layout: OciLayout, options: UploadSessionsOptions = {}) {
    this.#layout = layout;
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    const every = Math.max(100, Math.min(this.#idleMs / 4, 60_000));
    this.#timer = setInterval(() => this.sweep(), every);
    // The sweep never keeps a process alive on its own.
    if (typeof this.#timer === "number") Deno.unrefTimer(this.#timer);
    else (this.#timer as { unref?: () => void }).unref?.();
  }

  /** Starts a session for `repository`. */
  async open(repository: string): Promise<UploadSession> {
    const path = this.#layout.temporaryBlobPath();
    const file = await Deno.open(path, { read: true, write: true, createNew: true });
    const s: Session = {
      id: crypto.randomUUID(),
      repository,
      path,
      size: 0,
      file,
      hash: createHash("sha256"),
      busy: false,
      touched: Date.now(),
    };
    this.#sessions.set(s.id, s);
    return s;
  }

  /** The session `id` of `repository`; BLOB_UPLOAD_UNKNOWN when there is none. */
  get(repository: string, id: string): UploadSession {
    const s = this.#sessions.get(id);
    if (!s || s.repository !== repository) {
      throw new RegistryError("BLOB_UPLOAD_UNKNOWN", `upload ${id} is not known`);
    }
    s.touched = Date.now();
    return s;
  }

  /**
   * Appends a request body, streamed to disk. With `length`, the body must
   * be exactly that long: a longer one is refused as it arrives.
   */
  async append(
    session: UploadSession,
    body: ReadableStream<Uint8Array> | null,
    length?: number,
  ): Promise<void> {
    const s = this.#own(session);
    if (s.busy) {
      throw new RegistryError("BLOB_UPLOAD_INVALID", `upload ${s.id} is receiving another chunk`, {
        status: 416,
      });
    }
    s.busy = true;
    const before = s.size;
    const saved = s.hash.copy();
    let received = 0;
    try {
      if (body) received = await drain(body, s, length);
      if (length !== undefined && received !== length) {
        throw new RegistryError(
          "SIZE_INVALID",
          `body has ${received} bytes, not the ${length} declared`,
        );
      }
      s.size = before + received;
    } catch (e) {
      // The chunk lands whole or not at all: the client resumes from `before`.
      await s.file.truncate(before).catch(() => {});
      await s.file.seek(before, Deno.SeekMode.Start).catch(() => {});
      s.hash = saved;
      throw e;
    } finally {
      s.busy = false;
      s.touched = Date.now();
    }
  }

  /**
   * Ends a session whose content must hash to `digest`: the file is then
   * the caller's to adopt as a blob. On a mismatch the session is dropped.
   */
  async finish(session: UploadSession, digest: string): Promise<{ digest: string; size: number }> {
    const s = this.#own(session);
    if (s.busy) {
      throw new RegistryError("BLOB_UPLOAD_INVALID", `upload ${s.id} is still receiving`, {
        status: 416,
      });
    }
    this.#sessions.delete(s.id);
    s.file.close();
    const { algorithm } = parseDigest(digest);
    const actual = algorithm === "sha256"
      ? `sha256:${s.hash.digest("hex")}`
      : await hashFile(s.path, algorithm);
    if (actual !== digest) {
      await Deno.remove(s.path).catch(() => {});
      throw new RegistryError("DIGEST_INVALID", `upload hashes to ${actual}, not ${digest}`);
    }
    return { digest, size: s.size };
  }

  /** Drops a session and its file. */
  async cancel(session: UploadSession): Promise<void> {
    const s = this.#own(session);
    this.#sessions.delete(s.id);
    try {
      s.file.close();
    } catch { /* already closed */ }
    await Deno.remove(s.path).catch(() => {});
  }

  /** Removes sessions idle longer than the limit. */
  async sweep(now = Date.now()): Promise<void> {
    for (const s of [...this.#sessions.values()]) {
      if (!s.busy && now - s.touched > this.#idleMs) await this.cancel(s);
    }
  }

  /** Drops every session (server shutdown). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const s of [...this.#sessions.values()]) await this.cancel(s);
  }

  #own(session: UploadSession): Session {
    const s = this.#sessions.get(session.id);
    if (!s) throw new RegistryError("BLOB_UPLOAD_UNKNOWN", `upload ${session.id} is not known`);
    return s;
  }
}

/** Streams a body into the session's file and hash; returns the bytes taken. */
async function drain(
  body: ReadableStream<Uint8Array>,
  s: Session,
  length: number | undefined,
): Promise<number> {
  let received = 0;
  // Each chunk goes to disk as it comes: nothing of the body is held beyond it.
  for await (const chunk of body) {
    received += chunk.byteLength;
    if (length !== undefined && received > length) {
      throw new RegistryError("SIZE_INVALID", `body is longer than the ${length} bytes declared`);
    }
    s.hash.update(chunk);
    await writeAll(s.file, chunk);
  }
  return received;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength;) at += await file.write(bytes.subarray(at));
}

async function hashFile(path: string, algorithm: DigestAlgorithm): Promise<string> {
  const hash = createHash(algorithm);
  const file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk); // closes the file at the end
  return `${algorithm}:${hash.digest("hex")}`;
}
