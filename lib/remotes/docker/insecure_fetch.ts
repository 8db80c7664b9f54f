/**
 * `fetch` for HTTPS registries whose certificate the user chose not to
 * verify (`--tls-verify=false`). Deno's `fetch` has no per-request switch
 * for that, so this one request goes through `node:https` with
 * `rejectUnauthorized: false` and comes back as a Web `Response`, keeping
 * one HTTP layer (http.ts) for the rest of the code.
 *
 * @module
 */
import { request as httpsRequest } from "node:https";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";

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
export function insecureFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => headers[k] = v);
    const body = init.body;
    if (body instanceof ReadableStream) headers["transfer-encoding"] = "chunked";
    else if (body instanceof Uint8Array) headers["content-length"] = String(body.byteLength);
    else if (typeof body === "string") {
      headers["content-length"] = String(new TextEncoder().encode(body).byteLength);
    }
    const req = httpsRequest(url, { method: init.method ?? "GET", headers, ...agentOptions });
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
      (async () => {
        try {
          for await (const chunk of body as ReadableStream<Uint8Array>) {
            if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
          }
          req.end();
        } catch (e) {
          req.destroy(e as Error);
        }
      })();
    } else {
      if (body !== undefined && body !== null) req.write(body as Uint8Array | string);
      req.end();
    }
  });
}
