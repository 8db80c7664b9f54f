/**
 * The distribution spec's endpoints over {@linkcode RegistryStorage} and
 * {@linkcode UploadSessions}: one handler per route, each returning the
 * spec's statuses and headers. Authentication, read-only mode and logging
 * are the server's (see `server.ts`).
 *
 * @module
 */
import { MAX_MANIFEST_BYTES } from "../manifest.ts";
import { MediaType } from "../media_types.ts";
import { readAll } from "../remotes/manifest_source.ts";
import { RegistryError } from "./errors.ts";
import { checkDigest, checkRepository, isSupportedDigest, isTag } from "./names.ts";
import { METHODS, parseRoute, type Route } from "./router.ts";
import type { RegistryStorage } from "./storage.ts";
import type { UploadSession, UploadSessions } from "./uploads.ts";

/** What a handler tells the access log besides the response. */
export interface RequestStats {
  /** Request body bytes taken in. */
  received: number;
}

/**
 * Answers distribution API requests.
 *
 * @example
 * ```ts
 * import { OciLayout } from "../oci/layout.ts";
 * import { RegistryApi } from "./handlers.ts";
 * import { RegistryStorage } from "./storage.ts";
 * import { UploadSessions } from "./uploads.ts";
 * const layout = await OciLayout.open(await Deno.makeTempDir(), { create: true });
 * const uploads = new UploadSessions(layout);
 * const api = new RegistryApi(new RegistryStorage(layout), uploads);
 * const res = await api.handle(new Request("http://x/v2/"), { received: 0 });
 * console.log(res.status); // 200
 * await uploads.close();
 * ```
 */
export class RegistryApi {
  #storage: RegistryStorage;
  #uploads: UploadSessions;

  /** The API over `storage` and `uploads`. */
  constructor(storage: RegistryStorage, uploads: UploadSessions) {
    this.#storage = storage;
    this.#uploads = uploads;
  }

  /** Answers one request (errors are thrown as {@linkcode RegistryError}s). */
  handle(req: Request, stats: RequestStats): Promise<Response> {
    const url = new URL(req.url);
    const route = parseRoute(url.pathname);
    if (!route) {
      throw new RegistryError("UNSUPPORTED", `no such endpoint ${url.pathname}`, { status: 404 });
    }
    if (!METHODS[route.kind].includes(req.method)) {
      throw new RegistryError("UNSUPPORTED", `${req.method} is not supported on ${url.pathname}`);
    }
    if ("name" in route) checkRepository(route.name);
    return this.#dispatch(route, req, url, stats);
  }

  #dispatch(route: Route, req: Request, url: URL, stats: RequestStats): Promise<Response> {
    switch (route.kind) {
      case "base":
        return Promise.resolve(json({}, req.method));
      case "catalog":
        return this.#catalog(url);
      case "tags":
        return this.#tags(route.name, url);
      case "manifest":
        if (req.method === "PUT") return this.#putManifest(route.name, route.reference, req, stats);
        if (req.method === "DELETE") return this.#deleteManifest(route.name, route.reference);
        return this.#getManifest(route.name, route.reference, req);
      case "blob":
        if (req.method === "DELETE") return this.#deleteBlob(route.name, route.digest);
        return this.#getBlob(route.name, route.digest, req);
      case "uploads":
        return this.#startUpload(route.name, req, url, stats);
      case "upload":
        return this.#upload(route.name, route.id, req, url, stats);
      case "referrers":
        return this.#referrers(route.name, route.digest, url);
    }
  }

  async #catalog(url: URL): Promise<Response> {
    const all = await this.#storage.repositories();
    return paged(all, url, "/v2/_catalog", (items) => ({ repositories: items }));
  }

  async #tags(name: string, url: URL): Promise<Response> {
    const all = await this.#storage.tags(name);
    return paged(all, url, `/v2/${name}/tags/list`, (items) => ({ name, tags: items }));
  }

  async #getManifest(name: string, reference: string, req: Request): Promise<Response> {
    if (!isSupportedDigest(reference) && !isTag(reference)) {
      throw new RegistryError("MANIFEST_UNKNOWN", `invalid reference ${JSON.stringify(reference)}`);
    }
    const { descriptor, path } = await this.#storage.manifest(name, reference);
    if (!accepts(req.headers.get("accept"), descriptor.mediaType)) {
      throw new RegistryError(
        "MANIFEST_UNKNOWN",
        `manifest ${name}:${reference} is ${descriptor.mediaType}, which the Accept header excludes`,
      );
    }
    const headers = {
      "content-type": descriptor.mediaType,
      "content-length": String(descriptor.size),
      "docker-content-digest": descriptor.digest,
      etag: `"${descriptor.digest}"`,
    };
    if (req.method === "HEAD") return new Response(null, { headers });
    return new Response(await Deno.readFile(path), { headers });
  }

  async #putManifest(
    name: string,
    reference: string,
    req: Request,
    stats: RequestStats,
  ): Promise<Response> {
    const raw = await readBounded(req.body, MAX_MANIFEST_BYTES);
    stats.received = raw.byteLength;
    const { digest, subject } = await this.#storage.putManifest(
      name,
      reference,
      raw,
      req.headers.get("content-type") ?? undefined,
    );
    const headers: Record<string, string> = {
      location: `/v2/${name}/manifests/${digest}`,
      "docker-content-digest": digest,
    };
    if (subject) headers["oci-subject"] = subject;
    return empty(201, headers);
  }

  async #deleteManifest(name: string, reference: string): Promise<Response> {
    if (isSupportedDigest(reference)) await this.#storage.deleteManifest(name, reference);
    else if (isTag(reference)) await this.#storage.deleteTag(name, reference);
    else throw new RegistryError("MANIFEST_UNKNOWN", `invalid reference ${reference}`);
    return empty(202);
  }

  async #getBlob(name: string, digest: string, req: Request): Promise<Response> {
    checkDigest(digest);
    const found = await this.#storage.blob(name, digest);
    if (!found) throw new RegistryError("BLOB_UNKNOWN", `blob ${digest} is not known in ${name}`);
    const total = found.descriptor.size;
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      "docker-content-digest": digest,
      "accept-ranges": "bytes",
      etag: `"${digest}"`,
    };
    const range = parseByteRange(req.headers.get("range"), total);
    if (range === "unsatisfiable") {
      throw new RegistryError(
        "BLOB_UNKNOWN",
        `range ${req.headers.get("range")} is outside the blob`,
        {
          status: 416,
          headers: { "content-range": `bytes */${total}` },
        },
      );
    }
    const [start, end] = range ?? [0, total - 1];
    const length = Math.max(0, end - start + 1);
    headers["content-length"] = String(length);
    if (range) headers["content-range"] = `bytes ${start}-${end}/${total}`;
    const status = range ? 206 : 200;
    if (req.method === "HEAD") return new Response(null, { status, headers });
    const file = await Deno.open(found.path, { read: true });
    if (start > 0) await file.seek(start, Deno.SeekMode.Start);
    const body = range && end < total - 1 ? limited(file, length) : file.readable;
    return new Response(body, { status, headers });
  }

  async #deleteBlob(name: string, digest: string): Promise<Response> {
    checkDigest(digest);
    await this.#storage.deleteBlob(name, digest);
    return empty(202);
  }

  async #startUpload(
    name: string,
    req: Request,
    url: URL,
    stats: RequestStats,
  ): Promise<Response> {
    const mount = url.searchParams.get("mount");
    const from = url.searchParams.get("from");
    if (mount !== null && from !== null && isSupportedDigest(mount) && from !== name) {
      checkRepository(from);
      if (await this.#storage.mountBlob(name, from, mount)) {
        await req.body?.cancel();
        return empty(201, {
          location: `/v2/${name}/blobs/${mount}`,
          "docker-content-digest": mount,
        });
      }
    }
    const digest = url.searchParams.get("digest");
    if (digest !== null) {
      checkDigest(digest);
      const session = await this.#uploads.open(name);
      return await this.#complete(name, session, digest, req, stats);
    }
    await req.body?.cancel();
    const session = await this.#uploads.open(name);
    return empty(202, sessionHeaders(name, session));
  }

  async #upload(
    name: string,
    id: string,
    req: Request,
    url: URL,
    stats: RequestStats,
  ): Promise<Response> {
    const session = this.#uploads.get(name, id);
    switch (req.method) {
      case "GET":
        return empty(204, sessionHeaders(name, session));
      case "DELETE":
        await this.#uploads.cancel(session);
        return empty(204);
      case "PATCH":
        await this.#append(name, session, req, stats);
        return empty(202, sessionHeaders(name, session));
      default: { // PUT
        const digest = url.searchParams.get("digest");
        if (digest === null) {
          throw new RegistryError("DIGEST_INVALID", "the upload's digest parameter is missing");
        }
        checkDigest(digest);
        return await this.#complete(name, session, digest, req, stats);
      }
    }
  }

  /** Appends a body to a session, checking `Content-Range` against what it holds. */
  async #append(
    name: string,
    session: UploadSession,
    req: Request,
    stats: RequestStats,
  ): Promise<void> {
    const contentRange = req.headers.get("content-range");
    const declared = contentLength(req);
    let length = declared;
    if (contentRange !== null) {
      const m = contentRange.match(/^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/);
      const start = m ? Number(m[1]) : NaN;
      const end = m ? Number(m[2]) : NaN;
      if (!m || start !== session.size || end < start) {
        await req.body?.cancel();
        throw new RegistryError(
          "BLOB_UPLOAD_INVALID",
          `Content-Range ${contentRange} does not continue the upload at byte ${session.size}`,
          { status: 416, headers: sessionHeaders(name, session) },
        );
      }
      if (declared !== undefined && declared !== end - start + 1) {
        await req.body?.cancel();
        throw new RegistryError(
          "SIZE_INVALID",
          `Content-Range ${contentRange} disagrees with Content-Length ${declared}`,
        );
      }
      length = end - start + 1;
    }
    const before = session.size;
    try {
      await this.#uploads.append(session, req.body, length);
    } finally {
      stats.received += session.size - before;
    }
  }

  /** Appends a final body (if any), verifies the digest and makes the blob visible. */
  async #complete(
    name: string,
    session: UploadSession,
    digest: string,
    req: Request,
    stats: RequestStats,
  ): Promise<Response> {
    if (req.body) await this.#append(name, session, req, stats);
    const { size } = await this.#uploads.finish(session, digest);
    try {
      await this.#storage.addBlob(name, { digest, size }, session.path);
    } finally {
      await Deno.remove(session.path).catch(() => {}); // gone already once adopted
    }
    return empty(201, { location: `/v2/${name}/blobs/${digest}`, "docker-content-digest": digest });
  }

  async #referrers(name: string, digest: string, url: URL): Promise<Response> {
    checkDigest(digest);
    const artifactType = url.searchParams.get("artifactType") ?? undefined;
    const manifests = await this.#storage.referrers(name, digest, artifactType);
    const body = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
    const res = json(body, "GET", MediaType.OciIndex);
    if (artifactType !== undefined) res.headers.set("oci-filters-applied", "artifactType");
    return res;
  }
}

/** Headers that describe an upload session: where it is and what it holds. */
function sessionHeaders(name: string, s: UploadSession): Record<string, string> {
  return {
    location: `/v2/${name}/blobs/uploads/${s.id}`,
    range: `0-${Math.max(0, s.size - 1)}`,
    "docker-upload-uuid": s.id,
  };
}

function empty(status: number, headers: Record<string, string> = {}): Response {
  return new Response(null, { status, headers: { "content-length": "0", ...headers } });
}

function json(value: unknown, method: string, contentType = "application/json"): Response {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return new Response(method === "HEAD" ? null : bytes, {
    headers: { "content-type": contentType, "content-length": String(bytes.byteLength) },
  });
}

/** A lexically ordered listing with `n`/`last` paging and a `Link` to the next page. */
function paged(
  all: string[],
  url: URL,
  path: string,
  body: (items: string[]) => unknown,
): Response {
  const last = url.searchParams.get("last");
  const nParam = url.searchParams.get("n");
  let items = last === null ? all : all.filter((x) => x > last);
  let link: string | undefined;
  if (nParam !== null) {
    const n = Number(nParam);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RegistryError("UNSUPPORTED", `invalid page size n=${nParam}`, { status: 400 });
    }
    if (n < items.length) {
      items = items.slice(0, n);
      if (n > 0) {
        const q = new URLSearchParams({ n: String(n), last: items[items.length - 1] });
        link = `<${path}?${q}>; rel="next"`;
      }
    }
  }
  const res = json(body(items), "GET");
  if (link) res.headers.set("link", link);
  return res;
}

/**
 * True when an `Accept` header admits `mediaType`: no header, a wildcard,
 * the type itself, or a header that names no manifest types at all.
 */
function accepts(accept: string | null, mediaType: string): boolean {
  if (!accept) return true;
  const types = accept.split(",").map((t) => t.split(";")[0].trim().toLowerCase());
  if (types.some((t) => t === "*/*" || t === "application/*" || t === mediaType)) return true;
  return !types.some((t) => t.includes("manifest") || t.includes("image.index"));
}

/** `[start, end]` of a `Range: bytes=…` header; `undefined` for none. */
function parseByteRange(
  header: string | null,
  total: number,
): [number, number] | "unsatisfiable" | undefined {
  if (!header) return undefined;
  const m = header.match(/^bytes=(\d*)-(\d*)$/);
  if (!m || (m[1] === "" && m[2] === "")) return undefined; // not a single range: serve it all
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0) return "unsatisfiable";
    return [Math.max(0, total - n), total - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? total - 1 : Math.min(Number(m[2]), total - 1);
  if (start >= total || end < start) return "unsatisfiable";
  return [start, end];
}

/** The first `length` bytes of an open file, from its position, as a stream. */
function limited(file: Deno.FsFile, length: number): ReadableStream<Uint8Array> {
  let left = length;
  return new ReadableStream({
    async pull(controller) {
      const buf = new Uint8Array(Math.min(left, 1024 * 1024));
      const n = left > 0 ? await file.read(buf) : null;
      if (n === null || n === 0) {
        file.close();
        controller.close();
        return;
      }
      left -= n;
      controller.enqueue(buf.subarray(0, n));
    },
    cancel() {
      file.close();
    },
  });
}

function contentLength(req: Request): number | undefined {
  const v = req.headers.get("content-length");
  if (v === null) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Reads a body of at most `limit` bytes; a longer one is refused with 413. */
function readBounded(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array> {
  if (!body) return Promise.resolve(new Uint8Array());
  return readAll(
    body,
    limit,
    (n) => new RegistryError("SIZE_INVALID", `manifest is larger than ${n} bytes`, { status: 413 }),
  );
}
