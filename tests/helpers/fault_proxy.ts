/**
 * A reverse proxy in front of a test registry that injects network and registry faults on a
 * schedule: connections reset mid-body, 5xx answers, 429 with `Retry-After`, stalled bodies,
 * corrupted bytes, and `Range` requests answered in full.
 *
 * Everything else is forwarded faithfully: method, headers, streamed request and response
 * bodies, status, and `Location` headers pointing at the upstream rewritten to the proxy, so a
 * client (dtool, skopeo) can push and pull through it.
 *
 * @module
 */

import { copyHeaders } from "./forward.ts";

/** One fault, applied to one request. */
export type Fault =
  /** Forward the request, send `bytes` of the response body, then abort the connection. */
  | { kind: "reset-after"; bytes: number }
  /** Answer with this status without asking the upstream. */
  | { kind: "status"; status: number; code?: string }
  /** Answer 429 (or `status`) with `Retry-After: seconds` without asking the upstream. */
  | { kind: "retry-after"; seconds: number; status?: number }
  /** Send `bytes` of the response body (default 0), then nothing for `ms`, then the rest. */
  | { kind: "stall"; ms: number; bytes?: number }
  /** Hold the response headers back for `ms`, then answer normally. */
  | { kind: "stall-headers"; ms: number }
  /**
   * Flip bits of the response body, keeping its length: the byte at every multiple of `every`
   * (default 65 536) from offset `at` (default 0) is XORed with 0xff.
   */
  | { kind: "corrupt"; at?: number; every?: number }
  /** Drop the request's `Range` header, so the registry answers 200 with the whole body. */
  | { kind: "ignore-range" };

/** The name of a kind of fault. */
export type FaultKind = Fault["kind"];

/** A scheduled fault: the next `times` requests that `match` get `fault`. */
export interface FaultRule {
  /** Which requests the rule applies to (see {@linkcode blobGet}, {@linkcode manifestRequest}). */
  match: (req: Request) => boolean;
  /** How many matching requests get the fault (default: every one, forever). */
  times?: number;
  /** The fault, or several applied together (e.g. `ignore-range` and `reset-after`). */
  fault: Fault | Fault[];
}

/** Random faults for soak runs: each matching request is faulty with `probability`. */
export interface RandomFaults {
  /** Seed of the pseudo-random sequence. */
  seed: number;
  /** Chance that a matching request gets a fault, 0..1. */
  probability: number;
  /**
   * Kinds to choose from (default: reset-after, status, retry-after, corrupt). Body faults
   * (reset-after, stall, corrupt) only go to GETs; ignore-range is handled by
   * `ignoreRangeProbability`.
   */
  kinds?: Exclude<FaultKind, "ignore-range">[];
  /** Which requests may get faults (default: GET and HEAD below `/v2/`). */
  match?: (req: Request) => boolean;
  /** Which requests may get `corrupt` (default: blob GETs). */
  corruptMatch?: (req: Request) => boolean;
  /** Chance that a `Range` request has its header dropped (default 0.5). */
  ignoreRangeProbability?: number;
  /** Statuses of `status` faults (default 500, 502, 503). */
  statuses?: number[];
  /** `Retry-After` of `retry-after` faults (default 1). */
  retryAfterSeconds?: number;
  /** Length of `stall` and `stall-headers` faults (default 2000 ms). */
  stallMs?: number;
}

/** What the proxy does: rules first (the first live matching rule wins), then random faults. */
export interface FaultSchedule {
  /** Scheduled faults. */
  rules?: FaultRule[];
  /** Random faults for requests no rule took. */
  random?: RandomFaults;
}

/** One request the proxy saw. */
export interface ProxyLogEntry {
  /** Order of arrival, from 0. */
  seq: number;
  /** HTTP method. */
  method: string;
  /** Path and query. */
  path: string;
  /** The `Range` header the client sent, if any. */
  range: string | null;
  /** Status the client got (0 while unknown or when the upstream was unreachable). */
  status: number;
  /** Faults applied. */
  faults: Fault[];
  /** `performance.now()` when the request arrived. */
  receivedAt: number;
  /** `performance.now()` when the response headers went out. */
  answeredAt: number;
}

/** Counters of a {@linkcode FaultProxy}. */
export interface FaultProxyStats {
  /** Requests received. */
  requests: number;
  /** Faults applied (a request with two faults counts two). */
  faultsInjected: number;
  /** Faults applied, by kind. */
  byKind: Partial<Record<FaultKind, number>>;
}

/** A running fault proxy. */
export interface FaultProxy {
  /** `"127.0.0.1:PORT"`: use it as the registry part of references. */
  host: string;
  /** `"http://127.0.0.1:PORT"`. */
  url: string;
  /** Counters. */
  stats: FaultProxyStats;
  /** Every request seen, in order of arrival. */
  log: ProxyLogEntry[];
  /** Replaces the schedule (rule counters start afresh). */
  setSchedule(schedule: FaultSchedule): void;
  /** Shuts the proxy down, ending stalled bodies at once, and waits for it. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Matches GETs of blobs, or of one blob. With `range`, only requests that carry (true) or lack
 * (false) a `Range` header.
 */
export function blobGet(digest?: string, range?: boolean): (req: Request) => boolean {
  return (req) => {
    if (req.method !== "GET") return false;
    const path = new URL(req.url).pathname;
    if (!/\/blobs\/[^/]+$/.test(path) || path.includes("/blobs/uploads/")) return false;
    if (digest !== undefined && !path.endsWith(`/blobs/${digest}`)) return false;
    return range === undefined || req.headers.has("range") === range;
  };
}

/** Matches requests for manifests (`method` defaults to any). */
export function manifestRequest(method?: string): (req: Request) => boolean {
  return (req) =>
    (method === undefined || req.method === method) &&
    /\/manifests\/[^/]+$/.test(new URL(req.url).pathname);
}

/** mulberry32: a small, good-enough seeded generator. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function defaultRandomMatch(req: Request): boolean {
  return (req.method === "GET" || req.method === "HEAD") &&
    new URL(req.url).pathname.startsWith("/v2/");
}

function errorBody(status: number, code = "UNAVAILABLE"): string {
  return JSON.stringify({
    errors: [{ code, message: `injected fault: HTTP ${status}` }],
  });
}

/** Body faults, resolved to byte offsets once the upstream answered. */
interface BodyPlan {
  resetAt?: number;
  stall?: { at: number; ms: number };
  corrupt?: { at: number; every: number };
}

/**
 * Starts the proxy on a free 127.0.0.1 port in front of `upstream` (`http://127.0.0.1:PORT`).
 *
 * @example
 * ```ts ignore
 * const proxy = await startFaultProxy(registry.url, {
 *   rules: [{ match: blobGet(layer.digest), times: 1, fault: { kind: "reset-after", bytes: 1000 } }],
 * });
 * // copy from `${proxy.host}/app:1` …
 * await proxy.stop();
 * ```
 */
export function startFaultProxy(upstream: string, schedule: FaultSchedule): Promise<FaultProxy> {
  const up = new URL(upstream);
  const ac = new AbortController();
  const stats: FaultProxyStats = { requests: 0, faultsInjected: 0, byKind: {} };
  const log: ProxyLogEntry[] = [];
  let rules: { rule: FaultRule; left: number }[] = [];
  let random: RandomFaults | undefined;
  let rng = Math.random;
  let proxyOrigin = "";

  const setSchedule = (s: FaultSchedule) => {
    rules = (s.rules ?? []).map((rule) => ({ rule, left: rule.times ?? Infinity }));
    random = s.random;
    rng = random ? seededRandom(random.seed) : Math.random;
  };
  setSchedule(schedule);

  const count = (f: Fault, entry: ProxyLogEntry) => {
    stats.faultsInjected++;
    stats.byKind[f.kind] = (stats.byKind[f.kind] ?? 0) + 1;
    entry.faults.push(f);
  };

  /** Sleeps `ms`, or less when the proxy stops. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (ac.signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        ac.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      ac.signal.addEventListener("abort", done);
    });

  /** The faults for a request: from the first live rule, else perhaps random ones. */
  const choose = (req: Request): Fault[] => {
    for (const r of rules) {
      if (r.left > 0 && r.rule.match(req)) {
        r.left--;
        return Array.isArray(r.rule.fault) ? r.rule.fault : [r.rule.fault];
      }
    }
    if (!random || !(random.match ?? defaultRandomMatch)(req)) return [];
    const out: Fault[] = [];
    if (req.headers.has("range") && rng() < (random.ignoreRangeProbability ?? 0.5)) {
      out.push({ kind: "ignore-range" });
    }
    if (rng() >= random.probability) return out;
    const kinds = (random.kinds ?? ["reset-after", "status", "retry-after", "corrupt"]).filter(
      (k) => {
        if (k === "reset-after" || k === "stall") return req.method === "GET";
        if (k === "corrupt") return (random!.corruptMatch ?? blobGet())(req);
        return true;
      },
    );
    if (kinds.length === 0) return out;
    const kind = kinds[Math.floor(rng() * kinds.length)];
    const statuses = random.statuses ?? [500, 502, 503];
    const ms = random.stallMs ?? 2000;
    switch (kind) {
      case "status":
        out.push({ kind, status: statuses[Math.floor(rng() * statuses.length)] });
        break;
      case "retry-after":
        out.push({ kind, seconds: random.retryAfterSeconds ?? 1 });
        break;
      case "reset-after":
        out.push({ kind, bytes: -1 }); // -1: a random offset, chosen once the length is known
        break;
      case "stall":
        out.push({ kind, ms, bytes: -1 });
        break;
      case "stall-headers":
        out.push({ kind, ms });
        break;
      case "corrupt":
        out.push({ kind });
        break;
    }
    return out;
  };

  /** Wraps an upstream body so it is cut, stalled or corrupted as planned. */
  const faultyBody = (
    body: ReadableStream<Uint8Array>,
    plan: BodyPlan,
    knownLength: boolean,
  ): ReadableStream<Uint8Array> => {
    const reader = body.getReader();
    let sent = 0;
    let held: Uint8Array | undefined;
    let stalled = false;
    const next = async () => {
      if (held) {
        const h = held;
        held = undefined;
        return h;
      }
      const r = await reader.read();
      return r.done ? undefined : r.value;
    };
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (plan.resetAt !== undefined && sent >= plan.resetAt) {
          reader.cancel().catch(() => {});
          // With a Content-Length, closing early makes the server abort the connection, which
          // the client sees as a broken body. Without one only an error does that.
          if (knownLength) controller.close();
          else controller.error(new Error("injected reset"));
          return;
        }
        if (plan.stall && !stalled && sent >= plan.stall.at) {
          stalled = true;
          await pause(plan.stall.ms);
          if (ac.signal.aborted) {
            reader.cancel().catch(() => {});
            controller.error(new Error("fault proxy stopped"));
            return;
          }
        }
        let chunk = await next();
        if (chunk === undefined) {
          controller.close();
          return;
        }
        // Cut the chunk at the next planned event (a reset or a stall) so it lands exactly.
        const limits = [plan.resetAt, plan.stall && !stalled ? plan.stall.at : undefined]
          .filter((n): n is number => n !== undefined && n > sent && n < sent + chunk!.byteLength);
        if (limits.length > 0) {
          const cut = Math.min(...limits) - sent;
          held = chunk.subarray(cut);
          chunk = chunk.subarray(0, cut);
        }
        if (plan.corrupt) {
          const { at, every } = plan.corrupt;
          let copy: Uint8Array | undefined;
          const first = at >= sent ? at : at + Math.ceil((sent - at) / every) * every;
          for (let off = first; off < sent + chunk.byteLength; off += every) {
            copy ??= chunk.slice();
            copy[off - sent] ^= 0xff;
          }
          if (copy) chunk = copy;
        }
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel(reason) {
        return reader.cancel(reason).catch(() => {});
      },
    }, { highWaterMark: 0 });
  };

  const handler = async (req: Request): Promise<Response> => {
    const u = new URL(req.url);
    const entry: ProxyLogEntry = {
      seq: stats.requests++,
      method: req.method,
      path: u.pathname + u.search,
      range: req.headers.get("range"),
      status: 0,
      faults: [],
      receivedAt: performance.now(),
      answeredAt: 0,
    };
    log.push(entry);
    const faults = choose(req);
    const answer = (res: Response) => {
      entry.status = res.status;
      entry.answeredAt = performance.now();
      return res;
    };

    for (const f of faults) {
      if (f.kind === "status" || f.kind === "retry-after") {
        count(f, entry);
        await req.body?.cancel().catch(() => {});
        const status = f.kind === "status" ? f.status : f.status ?? 429;
        const headers = new Headers({ "content-type": "application/json" });
        if (f.kind === "retry-after") headers.set("retry-after", String(f.seconds));
        return answer(
          new Response(
            req.method === "HEAD"
              ? null
              : errorBody(status, f.kind === "status" ? f.code : undefined),
            { status, headers },
          ),
        );
      }
    }

    const headers = copyHeaders(req.headers);
    // Ask for identity so fetch never transparently decompresses a body we re-send as-is.
    headers.set("accept-encoding", "identity");
    for (const f of faults) {
      if (f.kind === "ignore-range" && headers.has("range")) {
        count(f, entry);
        headers.delete("range");
      }
      if (f.kind === "stall-headers") {
        count(f, entry);
        await pause(f.ms);
      }
    }

    const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== null;
    const init: RequestInit & { duplex?: string } = {
      method: req.method,
      headers,
      body: hasBody ? req.body : undefined,
      redirect: "manual",
      signal: ac.signal,
    };
    if (hasBody) init.duplex = "half";
    const res = await fetch(new URL(u.pathname + u.search, up), init);
    const rh = copyHeaders(res.headers);
    const loc = rh.get("location");
    if (loc) {
      const abs = new URL(loc, up);
      if (abs.origin === up.origin) rh.set("location", proxyOrigin + abs.pathname + abs.search);
    }
    if (req.method === "HEAD" || !res.body) {
      await res.body?.cancel();
      return answer(
        new Response(null, { status: res.status, statusText: res.statusText, headers: rh }),
      );
    }

    const length = Number(res.headers.get("content-length") ?? NaN);
    const known = Number.isFinite(length);
    const somewhere = () => Math.floor(rng() * (known ? length : 65536));
    const plan: BodyPlan = {};
    for (const f of faults) {
      if (f.kind === "reset-after") {
        plan.resetAt = f.bytes >= 0 ? f.bytes : somewhere();
        if (!known || plan.resetAt < length) count(f, entry);
        else plan.resetAt = undefined;
      } else if (f.kind === "stall") {
        plan.stall = { at: (f.bytes ?? 0) >= 0 ? f.bytes ?? 0 : somewhere(), ms: f.ms };
        count(f, entry);
      } else if (f.kind === "corrupt") {
        plan.corrupt = { at: f.at ?? 0, every: f.every ?? 65536 };
        if (!known || plan.corrupt.at < length) count(f, entry);
      }
    }
    const body = Object.keys(plan).length > 0 ? faultyBody(res.body, plan, known) : res.body;
    return answer(
      new Response(body, { status: res.status, statusText: res.statusText, headers: rh }),
    );
  };

  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: ac.signal,
      onListen: () => {},
      onError: (e) =>
        new Response(`fault proxy error: ${e instanceof Error ? e.message : e}`, { status: 502 }),
    }, handler);
    const host = `127.0.0.1:${server.addr.port}`;
    proxyOrigin = `http://${host}`;
    let stopped: Promise<void> | undefined;
    resolve({
      host,
      url: proxyOrigin,
      stats,
      log,
      setSchedule,
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
