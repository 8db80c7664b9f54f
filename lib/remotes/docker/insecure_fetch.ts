/**
 * `fetch` for HTTPS registries whose certificate the user chose not to
 * verify (`--tls-verify=false`). Deno's `fetch` has no per-request switch
 * for that, so this one request goes through `node:https` with
 * `rejectUnauthorized: false` and comes back as a Web `Response`, keeping
 * one HTTP layer (http.ts) for the rest of the code.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";

/**
 * The Node modules this file needs, imported on first use: loading them
 * boots Deno's Node layer, tens of milliseconds that every command would
 * pay at start-up for a transport few runs use.
 */
async function node() {
  const [https, http, stream, tls] = await Promise.all([
    import("node:https"),
    import("node:http"),
    import("node:stream"),
    import("node:tls"),
  ]);
  return {
    httpsRequest: https.request,
    httpRequest: http.request,
    pipeline: stream.pipeline,
    Readable: stream.Readable,
    tlsConnect: tls.connect,
  };
}

const agentOptions = { rejectUnauthorized: false, keepAlive: true };

/**
 * Sends a request without verifying the server's certificate. Redirects are
 * not followed (the caller follows them, as with `redirect: "manual"`).
 *
 * @example
 * ```ts
 * import { insecureFetch } from "./insecure_fetch.ts";
 * // const res = await insecureFetch("https://127.0.0.1:5000/v2/", { method: "GET" });
 * ```
 */
export async function insecureFetch(
  url: string,
  init: RequestInit = {},
  client: { cert?: string; key?: string } = {},
): Promise<Response> {
  const { httpsRequest, pipeline, Readable } = await node();
  const proxy = proxyFor(new URL(url));
  const socket = proxy ? await openTunnel(proxy, new URL(url), client) : undefined;
  return await new Promise<Response>((resolve, reject) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => headers[k] = v);
    const body = init.body;
    if (body instanceof ReadableStream) headers["transfer-encoding"] = "chunked";
    else if (body instanceof Uint8Array) headers["content-length"] = String(body.byteLength);
    else if (typeof body === "string") {
      headers["content-length"] = String(new TextEncoder().encode(body).byteLength);
    }
    // A client certificate still goes with the request: unverified is not unauthenticated.
    const identity = client.cert && client.key ? { cert: client.cert, key: client.key } : {};
    const req = httpsRequest(
      url,
      socket
        ? { method: init.method ?? "GET", headers, createConnection: () => socket }
        : { method: init.method ?? "GET", headers, ...agentOptions, ...identity },
    );
    const onAbort = () => req.destroy(new DOMException("The request was aborted", "AbortError"));
    init.signal?.addEventListener("abort", onAbort, { once: true });
    req.on("error", (e) => {
      init.signal?.removeEventListener("abort", onAbort);
      reject(new TypeError(`error sending request for url (${url}): ${e.message}`, { cause: e }));
    });
    req.on("response", (res: IncomingMessage) => {
      init.signal?.removeEventListener("abort", onAbort);
      const out = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (v === undefined) continue;
        for (const item of Array.isArray(v) ? v : [v]) out.append(k, item);
      }
      const status = res.statusCode ?? 502;
      const noBody = init.method === "HEAD" || status === 204 || status === 304;
      if (noBody) res.resume();
      const stream = noBody ? null : Readable.toWeb(res) as ReadableStream<Uint8Array>;
      resolve(new Response(stream, { status, statusText: res.statusMessage, headers: out }));
    });
    if (body instanceof ReadableStream) {
      // pipeline ends both sides on any failure: a refused upload cancels the source, and a
      // failed source aborts the request (a hand-written pump can wait for "drain" forever).
      pipeline(Readable.fromWeb(body as ReadableStream<Uint8Array>), req, () => {});
    } else {
      if (body !== undefined && body !== null) req.write(body as Uint8Array | string);
      req.end();
    }
  });
}

/**
 * The HTTPS proxy for a URL from HTTPS_PROXY / https_proxy, unless NO_PROXY
 * names its host (exact, as a domain suffix, with or without the port, or `*`),
 * as Deno's own fetch decides.
 *
 * @example
 * ```ts
 * import { proxyFor } from "./insecure_fetch.ts";
 * console.log(proxyFor(new URL("https://registry.example/v2/"))); // undefined when no proxy is set
 * ```
 */
export function proxyFor(url: URL): URL | undefined {
  const env = (k: string) => Deno.env.get(k) ?? Deno.env.get(k.toLowerCase());
  const proxy = env("HTTPS_PROXY");
  if (!proxy) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  for (const raw of (env("NO_PROXY") ?? "").split(",")) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") return undefined;
    const [name, port] = entry.startsWith("[")
      ? [entry.slice(1, entry.indexOf("]")), entry.split("]:")[1]]
      : [entry.split(":")[0], entry.split(":")[1]];
    if (port && port !== (url.port || "443")) continue;
    const bare = name.replace(/^\*?\./, "");
    if (host === bare || host.endsWith(`.${bare}`)) return undefined;
  }
  return new URL(proxy.includes("://") ? proxy : `http://${proxy}`);
}

/** A connection through an HTTP CONNECT tunnel, then TLS without verification. */
async function openTunnel(
  proxy: URL,
  target: URL,
  client: { cert?: string; key?: string },
): Promise<Socket> {
  const { httpRequest, tlsConnect } = await node();
  return await new Promise((resolve, reject) => {
    const port = target.port || "443";
    const headers: Record<string, string> = { host: `${target.hostname}:${port}` };
    if (proxy.username) {
      const user = decodeURIComponent(proxy.username);
      const pass = decodeURIComponent(proxy.password);
      headers["proxy-authorization"] = `Basic ${btoa(`${user}:${pass}`)}`;
    }
    const connectReq = httpRequest({
      host: proxy.hostname.replace(/^\[|\]$/g, ""),
      port: Number(proxy.port || 80),
      method: "CONNECT",
      path: `${target.hostname}:${port}`,
      headers,
    });
    connectReq.on("connect", (res: IncomingMessage, socket: Socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return reject(new Error(`proxy ${proxy.host} refused the tunnel: HTTP ${res.statusCode}`));
      }
      const secure = tlsConnect({
        socket,
        servername: /^[\d.]+$|:/.test(target.hostname) ? undefined : target.hostname,
        rejectUnauthorized: false,
        ...(client.cert && client.key ? { cert: client.cert, key: client.key } : {}),
      });
      resolve(secure as unknown as Socket);
    });
    connectReq.on("error", reject);
    connectReq.end();
  });
}
