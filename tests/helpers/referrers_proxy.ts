/**
 * A reverse proxy that gives a real registry (distribution 2.8, which has no
 * referrers API) the OCI 1.1 referrers API: it answers
 * `GET /v2/<name>/referrers/<digest>` from the manifests with a `subject`
 * that were pushed through it (with `artifactType` filtering and
 * `OCI-Filters-Applied`), and sets `OCI-Subject` on those pushes. It counts
 * what it was asked, and every read or write of a fallback tag.
 *
 * @module
 */
import { copyHeaders } from "./forward.ts";
import { sha256Digest } from "./images.ts";

/** A running referrers proxy. */
export interface ReferrersProxy {
  /** `"http://127.0.0.1:PORT"`. */
  url: string;
  /** `"127.0.0.1:PORT"`. */
  host: string;
  /** Counts of what was asked. */
  readonly counts: { api: number; fallbackReads: number; fallbackWrites: number };
  /** Every manifest PUT that succeeded, in order, as `<repo>:<reference>`. */
  readonly puts: string[];
  /** Shuts the server down. Idempotent. */
  stop(): Promise<void>;
}

interface Entry {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const REFERRERS_RE = /^\/v2\/(.+)\/referrers\/([^/]+)$/;
const MANIFEST_RE = /^\/v2\/(.+)\/manifests\/([^/]+)$/;
const FALLBACK_RE = /^sha256-[0-9a-f]{64}/;

/** Starts the proxy on a free loopback port in front of `upstream` (`http://127.0.0.1:PORT`). */
export function startReferrersProxy(upstream: string): Promise<ReferrersProxy> {
  const up = new URL(upstream);
  const ac = new AbortController();
  const index = new Map<string, Entry[]>();
  const counts = { api: 0, fallbackReads: 0, fallbackWrites: 0 };
  const puts: string[] = [];
  let origin = "";

  const forward = async (req: Request, body?: Uint8Array) => {
    const u = new URL(req.url);
    const headers = copyHeaders(req.headers);
    headers.set("accept-encoding", "identity");
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const res = await fetch(new URL(u.pathname + u.search, up), {
      method: req.method,
      headers,
      body: hasBody ? (body as BodyInit | undefined) ?? req.body : undefined,
      redirect: "manual",
      signal: ac.signal,
    });
    const rh = copyHeaders(res.headers);
    const loc = rh.get("location");
    if (loc) {
      const abs = new URL(loc, up);
      if (abs.origin === up.origin) rh.set("location", origin + abs.pathname + abs.search);
    }
    return { res, rh };
  };

  const handler = async (req: Request): Promise<Response> => {
    const u = new URL(req.url);
    const referrers = req.method === "GET" ? REFERRERS_RE.exec(u.pathname) : null;
    if (referrers) {
      counts.api++;
      const [, repo, digest] = referrers;
      let manifests = index.get(`${repo}@${digest}`) ?? [];
      const h = new Headers({ "content-type": "application/vnd.oci.image.index.v1+json" });
      const wanted = u.searchParams.getAll("artifactType");
      if (wanted.length) {
        manifests = manifests.filter((m) => m.artifactType && wanted.includes(m.artifactType));
        h.set("oci-filters-applied", "artifactType");
      }
      const body = {
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests,
      };
      return new Response(JSON.stringify(body), { headers: h });
    }
    const manifest = MANIFEST_RE.exec(u.pathname);
    if (manifest && FALLBACK_RE.test(manifest[2])) {
      if (req.method === "PUT" || req.method === "DELETE") counts.fallbackWrites++;
      else counts.fallbackReads++;
    }
    if (manifest && req.method === "PUT") {
      const bytes = new Uint8Array(await req.arrayBuffer());
      const { res, rh } = await forward(req, bytes);
      const doc = JSON.parse(new TextDecoder().decode(bytes));
      if (res.status === 201) puts.push(`${manifest[1]}:${manifest[2]}`);
      if (res.status === 201 && doc.subject?.digest) {
        const entry: Entry = {
          mediaType: doc.mediaType,
          digest: sha256Digest(bytes),
          size: bytes.byteLength,
          artifactType: doc.artifactType ?? doc.config?.mediaType,
        };
        if (doc.annotations) entry.annotations = doc.annotations;
        const key = `${manifest[1]}@${doc.subject.digest}`;
        const list = index.get(key) ?? [];
        if (!list.some((e) => e.digest === entry.digest)) list.push(entry);
        index.set(key, list);
        rh.set("oci-subject", doc.subject.digest);
      }
      return new Response(res.body, { status: res.status, headers: rh });
    }
    const { res, rh } = await forward(req);
    return new Response(req.method === "HEAD" ? null : res.body, {
      status: res.status,
      headers: rh,
    });
  };

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: () => {},
    onError: (e) => new Response(`referrers proxy: ${e}`, { status: 502 }),
  }, handler);
  const host = `127.0.0.1:${server.addr.port}`;
  origin = `http://${host}`;
  let stopped: Promise<void> | undefined;
  return Promise.resolve({
    url: origin,
    host,
    counts,
    puts,
    stop() {
      stopped ??= (async () => {
        ac.abort();
        await server.finished;
      })();
      return stopped;
    },
  });
}
