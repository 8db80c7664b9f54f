/**
 * The HTTP client every registry request goes through: endpoint discovery
 * (HTTPS, or plain HTTP for loopback and insecure registries) from the
 * first read's answer or the `/v2/` ping, authorization, redirects, retries
 * and the `--debug` trace. Code above this file never calls `fetch` itself.
 *
 * @module
 */
import { Authorizer } from "../../auth/authorizer.ts";
import { parseChallenges } from "../../auth/challenge.ts";
import type { Credentials } from "../../auth/credentials.ts";
import { AuthError, DtoolError, NotFoundError } from "../../errors.ts";
import { redactText, redactUrl } from "../../redact.ts";
import { readAll } from "../manifest_source.ts";
import { retryDelay, sleep } from "../../retry.ts";
import type { TlsMaterial } from "./tls.ts";
import { requestPurpose } from "./purpose.ts";
import { after } from "../../timers.ts";

export { redactUrl };

/** How a {@linkcode RegistryClient} behaves. */
export interface RegistryClientOptions {
  /** Credentials for a registry host (`localhost:5000`, `registry-1.docker.io`). */
  credentials?: (host: string) => Promise<Credentials | undefined>;
  /** True when TLS verification is off for the host: plain HTTP is then allowed. */
  insecure?: (host: string) => boolean;
  /** Receives one line per HTTP exchange; secrets are already masked. */
  debug?: (line: string) => void;
  /** Retries of a failed replayable request (default 3). */
  retryTimes?: number;
  /** First retry delay in milliseconds, doubled each time (default 500). */
  retryDelayMs?: number;
  /** Wait `retryDelayMs` before every retry instead of backing off (skopeo's --retry-delay). */
  fixedRetryDelay?: boolean;
  /**
   * How long to wait for response headers before treating the request as
   * failed (and retrying it when it can be). Default 60 s; not applied to
   * streamed uploads, whose bodies take as long as they take.
   */
  readTimeoutMs?: number;
  /** Certificate directory for a host (`--cert-dir`); system dirs are searched otherwise. */
  certDir?: (host: string) => string | undefined;
}

/** One request to a registry. */
export interface RegistryRequest {
  /** Registry host as in references (`docker.io` is mapped to its API host). */
  host: string;
  /** HTTP method (default GET). */
  method?: string;
  /** Path below the endpoint, starting with `/v2/`; or… */
  path?: string;
  /** …an absolute or relative URL (an upload `Location`). */
  url?: string;
  /** Request headers. */
  headers?: Record<string, string>;
  /** Body; a stream makes the request non-replayable. */
  body?: Uint8Array | ReadableStream<Uint8Array> | null;
  /** Token scope such as `repository:library/ubuntu:pull`. */
  scope?: string;
  /** Aborts the request. */
  signal?: AbortSignal;
  /**
   * False for a request that must not be sent twice blindly (a PATCH that
   * may have appended part of its body): transient failures come back to
   * the caller instead of being retried.
   */
  idempotent?: boolean;
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/**
 * True for statuses worth sending a request again for: 408, 429, 500, 502,
 * 503, 504.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRetryableStatus } from "./http.ts";
 * assert.equal(isRetryableStatus(503), true);
 * assert.equal(isRetryableStatus(404), false);
 * ```
 */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** Where each response finally came from, after redirects. */
const FINAL_URL = new WeakMap<Response, string>();

function finalOrigin(res: Response): string | undefined {
  const u = FINAL_URL.get(res);
  return u ? new URL(u).origin : undefined;
}
const MAX_REDIRECTS = 10;

/**
 * Maps a reference domain to the host that serves its API.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { apiHost } from "./http.ts";
 * assert.deepEqual(apiHost("docker.io"), "registry-1.docker.io");
 * ```
 */
export function apiHost(domain: string): string {
  return domain === "docker.io" ? "registry-1.docker.io" : domain;
}

/**
 * True for hosts on the loopback interface, which may be spoken to in plain
 * HTTP when they do not speak TLS.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLoopbackHost } from "./http.ts";
 * assert.equal(isLoopbackHost("127.0.0.1:5000"), true);
 * assert.equal(isLoopbackHost("[::1]:5000"), true);
 * ```
 */
export function isLoopbackHost(hostName: string): boolean {
  const host = hostName.toLowerCase();
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.split(":")[0];
  return name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/** True for a TLS failure that means "this server does not speak TLS at all". */
function isNotTls(err: unknown): boolean {
  const text = String((err as Error)?.message ?? err) + String((err as Error)?.cause ?? "");
  return /InvalidContentType|wrong version number|http request to an https server|corrupt message/i
    .test(text);
}

function errorText(err: unknown): string {
  const e = err as Error;
  const cause = e?.cause instanceof Error ? e.cause.message : "";
  const msg = cause || e?.message || String(err);
  return redactText(msg.replace(/^error sending request for url \([^)]*\): /, ""));
}

/**
 * The registry HTTP client of one run. It owns the per-host endpoint and the
 * {@linkcode Authorizer}; both are remembered for the life of the client so
 * no ping or token request is repeated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RegistryClient } from "./http.ts";
 * const client = new RegistryClient({});
 * // const res = await client.request({ host: "localhost:5000", path: "/v2/_catalog" });
 * assert.deepEqual(client.requests, 0);
 * ```
 */
export class RegistryClient {
  /** The authorization state shared by every request of this client. */
  readonly authorizer: Authorizer;
  /** HTTP requests sent so far (pings, tokens, retries and redirects included). */
  requests = 0;
  #opts: RegistryClientOptions;
  #endpoints = new Map<string, Promise<string>>();
  #tlsClients = new Map<string, Promise<Deno.HttpClient | undefined>>();
  #tlsMaterials = new Map<string, Promise<TlsMaterial | undefined>>();

  /** Creates a client; nothing is sent until the first request. */
  constructor(opts: RegistryClientOptions) {
    this.#opts = opts;
    this.authorizer = new Authorizer({
      credentials: (host) => opts.credentials?.(host) ?? Promise.resolve(undefined),
      send: (url, init) => this.#sendWithRetry(url, init, { note: "token for the scope" }),
    });
  }

  /**
   * Base URL (`https://host`) of a registry: learned from the first request
   * to it, or found by pinging `/v2/` once when that request could not tell.
   */
  endpoint(host: string): Promise<string> {
    const h = apiHost(host);
    return this.#remember(h, () => this.#ping(h));
  }

  /** The host's endpoint promise, made by `make` when there is none; a failure is forgotten. */
  #remember(host: string, make: () => Promise<string>): Promise<string> {
    let p = this.#endpoints.get(host);
    if (!p) {
      const made = make();
      this.#endpoints.set(host, made);
      made.catch(() => {
        if (this.#endpoints.get(host) === made) this.#endpoints.delete(host);
      });
      p = made;
    }
    return p;
  }

  /**
   * Sends the first request to a host without a ping first, as containerd
   * does: a read (GET or HEAD) goes straight to where the ping would have
   * looked first (plain HTTP on loopback, HTTPS elsewhere), and its answer
   * teaches what the ping would have: that the endpoint speaks, and with
   * 401 the authorization challenges. That saves a round trip on every run
   * against a registry that needs no credentials, and costs none against
   * one that does (the 401 takes the ping's place). Returns the response
   * when it is the answer; `undefined` when the request must be sent the
   * usual way: after a 401 (now with authorization), or after a failure,
   * in which case the endpoint is found by the ping as before.
   */
  async #sendFirst(host: string, req: RegistryRequest): Promise<Response | undefined> {
    const loopback = isLoopbackHost(host);
    const base = loopback ? `http://${host}` : `https://${host}`;
    let settle!: (base: Promise<string>) => void;
    this.#remember(host, () => new Promise<string>((resolve) => settle = resolve));
    // The endpoint is settled exactly once, whatever happens, so no other request waits forever.
    let settled = false;
    const learn = (endpoint: Promise<string>) => {
      if (!settled) settle(endpoint);
      settled = true;
    };
    try {
      const res = await this.#sendFollowing(base + req.path, {
        method: req.method ?? "GET",
        headers: req.headers,
        signal: req.signal,
      }, {
        note: `first request to this host, no ping${
          loopback ? "; loopback: plain HTTP first, HTTPS if this is a TLS port" : ""
        }`,
      }).catch((e) => {
        if (req.signal?.aborted) throw e;
        return undefined;
      });
      const answer = await this.#firstAnswer(host, base, res);
      learn(answer.endpoint);
      return answer.response;
    } finally {
      // An exception (an abort, a broken credentials file): other requests still find the host.
      if (!settled) learn(this.#ping(host));
    }
  }

  /** What the first answer of a host teaches: its endpoint, and the response if it is final. */
  async #firstAnswer(
    host: string,
    base: string,
    res: Response | undefined,
  ): Promise<{ endpoint: Promise<string>; response?: Response }> {
    const loopback = isLoopbackHost(host);
    if (!res || RETRYABLE_STATUS.has(res.status) || (loopback && res.status === 400)) {
      // No answer, a transient one, or a TLS port spoken to in plain HTTP: the ping decides,
      // going on to HTTPS at once where plain HTTP had no registry behind it.
      await res?.body?.cancel().catch(() => {});
      return { endpoint: this.#ping(host, loopback && (!res || res.status === 400)) };
    }
    const own = finalOrigin(res) === new URL(base).origin;
    if (res.status === 401 && own) {
      this.authorizer.setChallenges(host, parseChallenges(res.headers.get("www-authenticate")));
      await res.body?.cancel().catch(() => {});
      return { endpoint: Promise.resolve(base) };
    }
    if (res.status >= 400 && await this.#opts.credentials?.(host)) {
      // Some registries hide what an anonymous client may not see behind 403 or 404 rather than
      // 401: with credentials at hand, the ping learns how to present them and the request goes
      // again, as it would have with a ping first.
      await res.body?.cancel().catch(() => {});
      return { endpoint: this.#ping(host) };
    }
    this.authorizer.setChallenges(host, []);
    return { endpoint: Promise.resolve(base), response: res };
  }

  /**
   * Finds how to speak to a host. HTTPS first, except on loopback: there the
   * first TLS handshake of a process costs ~60 ms (the runtime sets up its
   * TLS stack), which a plain-HTTP registry on localhost — the common case —
   * would pay on every run only to fail. So loopback is asked in plain HTTP
   * first (the ping carries no credentials), and HTTPS is used when it does
   * not answer like a registry (a TLS port refuses or answers 400).
   */
  async #ping(host: string, plainTried = false): Promise<string> {
    const insecure = this.#opts.insecure?.(host) ?? false;
    const loopback = isLoopbackHost(host);
    if (loopback && !plainTried) {
      const plain = `http://${host}`;
      let res: Response | undefined;
      try {
        res = await this.#sendFollowing(`${plain}/v2/`, { method: "GET" }, {
          note: "loopback: plain HTTP first, HTTPS if this is a TLS port",
        });
      } catch {
        // Not plain HTTP, or not up yet: the HTTPS-first discovery below decides.
      }
      if (res && res.status !== 400) {
        if (!RETRYABLE_STATUS.has(res.status)) return await this.#pinged(host, plain, res);
        await res.body?.cancel();
        return await this.#pinged(
          host,
          plain,
          await this.#sendWithRetry(`${plain}/v2/`, { method: "GET" }, { note: "ping again" }),
        );
      }
      await res?.body?.cancel();
    }
    const bases = [`https://${host}`];
    if (insecure || loopback) bases.push(`http://${host}`);
    let lastErr: unknown;
    for (const base of bases) {
      let res: Response;
      try {
        res = await this.#sendWithRetry(`${base}/v2/`, { method: "GET" }, {
          note: base.startsWith("http:")
            ? "HTTPS failed: no TLS here, or verification off"
            : undefined,
        });
      } catch (e) {
        lastErr = e;
        // Fall back to plain HTTP only when the server does not speak TLS at
        // all, or when the user turned verification off for this host.
        if (base.startsWith("https:") && bases.length > 1 && (insecure || isNotTls(e))) continue;
        break;
      }
      return await this.#pinged(host, base, res);
    }
    throw new DtoolError(`cannot reach registry ${host}: ${errorText(lastErr)}`, undefined, {
      cause: lastErr,
    });
  }

  /** Records what a successful ping taught: the endpoint and the authorization challenges. */
  async #pinged(host: string, base: string, res: Response): Promise<string> {
    await res.body?.cancel();
    if (res.status === 401) {
      this.authorizer.setChallenges(host, parseChallenges(res.headers.get("www-authenticate")));
    } else {
      this.authorizer.setChallenges(host, []);
    }
    return base;
  }

  /**
   * Sends a request with authorization, following redirects (dropping
   * credentials when they lead to another host), retrying transient
   * failures of replayable requests, and renewing a refused token once.
   * The caller checks the status.
   */
  async request(req: RegistryRequest): Promise<Response> {
    const host = apiHost(req.host);
    const method = req.method ?? "GET";
    if (
      !this.#endpoints.has(host) && req.path && !req.body && (method === "GET" || method === "HEAD")
    ) {
      const res = await this.#sendFirst(host, req);
      if (res) return res;
    }
    const base = await this.endpoint(host);
    const url = req.url ? new URL(req.url, base).href : base + req.path;
    const target = new URL(url);
    const own = new URL(base).origin === target.origin;
    const mayDowngrade = (this.#opts.insecure?.(host) ?? false) || isLoopbackHost(target.host);
    if (!own && target.protocol === "http:" && base.startsWith("https:") && !mayDowngrade) {
      // An upload Location or page link must not downgrade a TLS registry to plain HTTP.
      throw new DtoolError(`registry ${host} sent a plain HTTP URL (${redactUrl(url)})`);
    }
    const replayable = !(req.body instanceof ReadableStream);
    let renewed = false;
    let note: string | undefined;
    for (;;) {
      const headers: Record<string, string> = { ...req.headers };
      // Credentials go to the registry's own origin only, never to a Location elsewhere.
      const auth = own ? await this.authorizer.authorize(host, req.scope) : undefined;
      if (auth) headers.authorization = auth;
      const init: RequestInit & { duplex?: string } = {
        method: req.method ?? "GET",
        headers,
        body: (req.body ?? null) as BodyInit | null,
        signal: req.signal,
      };
      if (req.body instanceof ReadableStream) init.duplex = "half";
      const res = replayable && req.idempotent !== false
        ? await this.#sendWithRetry(url, init, { note })
        : await this.#sendFollowing(url, init, { note });
      if (
        res.status === 401 && !renewed && replayable && own && finalOrigin(res) === target.origin
      ) {
        const challenges = parseChallenges(res.headers.get("www-authenticate"));
        if (challenges.length > 0) this.authorizer.setChallenges(host, challenges);
        this.authorizer.invalidate(host, req.scope ?? "");
        await res.body?.cancel();
        renewed = true;
        note = "again with a renewed token after HTTP 401";
        continue;
      }
      return res;
    }
  }

  async #sendWithRetry(url: string, init: RequestInit, why: Why = {}): Promise<Response> {
    const times = this.#opts.retryTimes ?? 3;
    const delay = { baseMs: this.#opts.retryDelayMs ?? 500, fixed: this.#opts.fixedRetryDelay };
    let retryNote = "";
    for (let attempt = 0;; attempt++) {
      let res: Response;
      try {
        res = await this.#sendFollowing(url, init, attempt ? { note: retryNote } : why);
      } catch (e) {
        retryNote = `retry ${attempt + 1} after: ${errorText(e)}`;
        if (attempt >= times || init.signal?.aborted || isNotTls(e) || isCertError(e)) throw e;
        await sleep(retryDelay(delay, attempt), init.signal ?? undefined);
        continue;
      }
      if (!RETRYABLE_STATUS.has(res.status) || attempt >= times) return res;
      const wait = retryAfterMs(res.headers.get("retry-after")) ?? retryDelay(delay, attempt);
      await res.body?.cancel();
      retryNote = `retry ${attempt + 1} after HTTP ${res.status}`;
      this.#opts.debug?.(`retrying in ${wait}ms after HTTP ${res.status}`);
      await sleep(wait, init.signal ?? undefined);
    }
  }

  async #sendFollowing(url: string, init: RequestInit, why: Why = {}): Promise<Response> {
    let current = url;
    const origin = new URL(url).origin;
    let headers = new Headers(init.headers);
    for (let hop = 0;; hop++) {
      const note = hop ? `redirected from ${redactUrl(url)}` : why.note;
      const res = await this.#send(current, { ...init, headers, redirect: "manual" }, note);
      const location = res.headers.get("location");
      if (![301, 302, 303, 307, 308].includes(res.status) || !location) {
        FINAL_URL.set(res, current);
        return res;
      }
      if (hop >= MAX_REDIRECTS) throw new DtoolError(`too many redirects from ${redactUrl(url)}`);
      await res.body?.cancel();
      current = new URL(location, current).href;
      if (new URL(current).origin !== origin) {
        // Never hand credentials to another origin (blob storage, a CDN, plain HTTP).
        headers = new Headers(headers);
        headers.delete("authorization");
      }
    }
  }

  /** The host's cert-dir material, read once per run. */
  #tlsMaterial(host: string): Promise<TlsMaterial | undefined> {
    let p = this.#tlsMaterials.get(host);
    if (!p) {
      // HTTPS only: a plain-HTTP run never loads the certificate code.
      p = import("./tls.ts").then((m) => m.tlsMaterialFor(host, this.#opts.certDir?.(host)));
      this.#tlsMaterials.set(host, p);
    }
    return p;
  }

  /** An HTTP client carrying the host's extra CAs and client certificate, if it has any. */
  #tlsClient(host: string): Promise<Deno.HttpClient | undefined> {
    let p = this.#tlsClients.get(host);
    if (!p) {
      p = this.#tlsMaterial(host).then((m) =>
        m && (m.caCerts.length || m.cert)
          ? Deno.createHttpClient({ caCerts: m.caCerts, cert: m.cert, key: m.key })
          : undefined
      );
      this.#tlsClients.set(host, p);
    }
    return p;
  }

  /** Releases pooled connections and TLS clients. */
  async close(): Promise<void> {
    for (const p of this.#tlsClients.values()) (await p.catch(() => undefined))?.close();
    this.#tlsClients.clear();
  }

  async #send(url: string, init: RequestInit, note?: string): Promise<Response> {
    this.requests++;
    const started = performance.now();
    const method = init.method ?? "GET";
    // Why the request is made, so that a trace explains itself (what, and why again).
    const why = () => {
      const purpose = requestPurpose(method, new URL(url));
      return ` (${note ? `${purpose}; ${note}` : purpose})`;
    };
    try {
      const u = new URL(url);
      // Headers are due within the read timeout after the body is sent: allow 256 KiB/s for it.
      const bodyBytes = init.body instanceof Uint8Array ? init.body.byteLength : 0;
      const timeoutMs = (this.#opts.readTimeoutMs ?? 60_000) + Math.ceil(bodyBytes / 256);
      const deadline = new AbortController();
      const cancelTimer = init.body instanceof ReadableStream ? undefined : after(
        timeoutMs,
        () => deadline.abort(new DtoolError(`no response within ${timeoutMs}ms`)),
      );
      const signal = init.signal
        ? AbortSignal.any([init.signal, deadline.signal])
        : deadline.signal;
      let res: Response;
      try {
        if (u.protocol === "https:" && this.#opts.insecure?.(u.host)) {
          const identity = await this.#tlsMaterial(u.host);
          const { insecureFetch } = await import("./insecure_fetch.ts");
          res = await insecureFetch(url, { ...init, signal }, identity ?? {});
        } else {
          const client = u.protocol === "https:" ? await this.#tlsClient(u.host) : undefined;
          res = await fetch(url, client ? { ...init, signal, client } : { ...init, signal });
        }
      } finally {
        cancelTimer?.();
      }
      this.#opts.debug?.(
        `${method} ${redactUrl(url)} ${res.status} ${Math.round(performance.now() - started)}ms` +
          why(),
      );
      return res;
    } catch (e) {
      this.#opts.debug?.(`${method} ${redactUrl(url)} failed: ${errorText(e)}${why()}`);
      throw e;
    }
  }
}

/** Why a request is sent beyond what its method and path say (a retry, a fallback). */
interface Why {
  note?: string;
}

function isCertError(err: unknown): boolean {
  return /certificate|UnknownIssuer|NotValidForName/i.test(
    String((err as Error)?.message) +
      String((err as Error)?.cause ?? ""),
  );
}

/** Longest Retry-After honoured; a registry asking for more gets this and a retry. */
const MAX_RETRY_AFTER_MS = 60_000;

function retryAfterMs(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  const date = Date.parse(value);
  const ms = Number.isFinite(seconds)
    ? seconds * 1000
    : Number.isNaN(date)
    ? undefined
    : date - Date.now();
  return ms === undefined ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/**
 * The body of a registry response, at most `limit` bytes: read at once when
 * its Content-Length says it fits (the HTTP layer stops there), else as a
 * stream that fails past `limit`. A compressed body is always streamed: its
 * length says nothing of what it inflates to.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBody } from "./http.ts";
 * const res = new Response("{}", { headers: { "content-length": "2" } });
 * assert.equal((await readBody(res, 1024)).byteLength, 2);
 * ```
 */
export async function readBody(res: Response, limit: number): Promise<Uint8Array> {
  const length = Number(res.headers.get("content-length") ?? NaN);
  if (Number.isSafeInteger(length) && length <= limit && !res.headers.has("content-encoding")) {
    return await res.bytes();
  }
  return await readAll(res.body!, limit);
}

/**
 * Turns an unsuccessful registry response into the error users see: 401 and
 * 403 → {@linkcode AuthError}, 404 → {@linkcode NotFoundError}, else the
 * registry's own error codes and messages.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { responseError } from "./http.ts";
 * const e = await responseError(new Response(null, { status: 404 }), "manifest x:1");
 * assert.deepEqual(e.message, "manifest x:1 not found (HTTP 404)");
 * ```
 */
export async function responseError(res: Response, what: string): Promise<DtoolError> {
  let errors: { code?: string; message?: string }[] = [];
  try {
    // An error body is small; a server sending more gets read no further.
    const text = new TextDecoder().decode(await readAll(res.body!, 64 * 1024));
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    errors = Array.isArray(body.errors)
      ? body.errors.filter((e) => typeof e === "object" && e !== null)
      : [];
  } catch {
    // Not JSON: the status says enough.
  }
  const detail = errors
    .map((e) => [e.code?.toLowerCase().replaceAll("_", " "), e.message].filter(Boolean)[0])
    .filter(Boolean).join("; ");
  const suffix = detail ? `: ${detail}` : "";
  const err = res.status === 401 || res.status === 403
    ? new AuthError(`access to ${what} denied (HTTP ${res.status})${suffix}`)
    : res.status === 404
    ? new NotFoundError(`${what} not found (HTTP 404)${suffix}`)
    : new DtoolError(`${what}: HTTP ${res.status}${suffix}`);
  // Kept for library callers: the status and the registry's own codes.
  err.status = res.status;
  err.codes = errors.map((e) => e.code).filter((c): c is string => typeof c === "string");
  return err;
}
