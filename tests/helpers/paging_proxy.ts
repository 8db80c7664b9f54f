/**
 * A reverse proxy in front of a test registry that paginates `GET /v2/<name>/tags/list`
 * (distribution 2.8 ignores `n`/`last` on tags lists and returns everything at once).
 *
 * @module
 */

import { copyHeaders } from "./forward.ts";

/** A running paging proxy. */
export interface PagingProxy {
  /** `"http://127.0.0.1:PORT"`. */
  url: string;
  /** `"127.0.0.1:PORT"`. */
  host: string;
  /** Number of tags/list requests served (pages), for assertions. */
  readonly tagPagesServed: number;
  /** Shuts the server down and waits for it. Idempotent. */
  stop(): Promise<void>;
}

const TAGS_RE = /^\/v2\/(.+)\/tags\/list$/;

/**
 * Starts a `Deno.serve` proxy on a free 127.0.0.1 port forwarding every request to `upstream`
 * (`http://127.0.0.1:PORT`; method, headers, streamed body, status and headers; `Location`
 * pointing at the upstream rewritten to the proxy). Tags lists are fetched in full upstream and
 * served in pages of at most `pageSize` (`n` honoured when smaller, `last` = exclusive lexical
 * start), with `Link: </v2/<name>/tags/list?n=N&last=T>; rel="next"` while more remain.
 */
export function startPagingProxy(upstream: string, pageSize: number): Promise<PagingProxy> {
  const up = new URL(upstream);
  let pages = 0;
  let proxyOrigin = "";
  const ac = new AbortController();

  const handler = async (req: Request): Promise<Response> => {
    const u = new URL(req.url);
    const target = new URL(u.pathname + u.search, up);
    const headers = copyHeaders(req.headers);
    // Ask for identity so fetch never transparently decompresses a body we re-send as-is.
    headers.set("accept-encoding", "identity");

    const m = req.method === "GET" ? TAGS_RE.exec(u.pathname) : null;
    if (m) {
      pages++;
      const full = await fetch(new URL(u.pathname, up), { headers, redirect: "manual" });
      if (full.status !== 200) {
        return new Response(full.body, { status: full.status, headers: copyHeaders(full.headers) });
      }
      const body = await full.json() as { name: string; tags: string[] | null };
      const all = [...(body.tags ?? [])].sort();
      const last = u.searchParams.get("last");
      const nParam = u.searchParams.get("n");
      let limit = pageSize;
      if (nParam !== null) {
        const n = Number(nParam);
        if (!Number.isInteger(n) || n < 0) {
          return Response.json({
            errors: [{ code: "PAGINATION_NUMBER_INVALID", message: "invalid number of results" }],
          }, { status: 400 });
        }
        limit = Math.min(n, pageSize);
      }
      const rest = last === null ? all : all.filter((t) => t > last);
      const page = rest.slice(0, limit);
      const h = new Headers({ "content-type": "application/json; charset=utf-8" });
      const api = full.headers.get("docker-distribution-api-version");
      if (api) h.set("docker-distribution-api-version", api);
      if (page.length > 0 && rest.length > page.length) {
        const next = `/v2/${m[1]}/tags/list?n=${limit}&last=${
          encodeURIComponent(page[page.length - 1])
        }`;
        h.set("link", `<${next}>; rel="next"`);
      }
      return new Response(JSON.stringify({ name: body.name, tags: page }), { headers: h });
    }

    const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== null;
    const res = await fetch(target, {
      method: req.method,
      headers,
      body: hasBody ? req.body : undefined,
      redirect: "manual",
      signal: ac.signal,
    });
    const rh = copyHeaders(res.headers);
    const loc = rh.get("location");
    if (loc) {
      const abs = new URL(loc, up);
      if (abs.origin === up.origin) rh.set("location", proxyOrigin + abs.pathname + abs.search);
    }
    return new Response(req.method === "HEAD" ? null : res.body, {
      status: res.status,
      statusText: res.statusText,
      headers: rh,
    });
  };

  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: ac.signal,
      onListen: () => {},
      onError: (e) =>
        new Response(`paging proxy error: ${e instanceof Error ? e.message : e}`, { status: 502 }),
    }, handler);
    const port = server.addr.port;
    const host = `127.0.0.1:${port}`;
    proxyOrigin = `http://${host}`;
    let stopped: Promise<void> | undefined;
    resolve({
      url: proxyOrigin,
      host,
      get tagPagesServed() {
        return pages;
      },
      stop() {
        stopped ??= (async () => {
          ac.abort();
          await server.finished;
        })();
        return stopped;
      },
    });
  });
}
