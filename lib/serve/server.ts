/**
 * `dtool serve` as a library: an OCI distribution registry over one OCI
 * image layout, on `Deno.serve`, with optional Basic auth, TLS and a
 * read-only mode, and one access-log line per request.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { OciLayout } from "../oci/layout.ts";
import { formatAccess } from "./access_log.ts";
import { errorResponse, RegistryError } from "./errors.ts";
import { RegistryApi, type RequestStats } from "./handlers.ts";
import { WRITE_METHODS } from "./router.ts";
import { RegistryStorage } from "./storage.ts";
import { UploadSessions } from "./uploads.ts";

/** Options of {@linkcode serveRegistry}. */
export interface ServeOptions {
  /** `HOST:PORT` to listen on (default `127.0.0.1:5000`; port 0 picks a free one). */
  addr?: string;
  /** The OCI layout to serve (created if missing); default a temporary one removed on shutdown. */
  storage?: string;
  /** Refuse pushes and deletes with 405 UNSUPPORTED. */
  readOnly?: boolean;
  /** An htpasswd file of bcrypt hashes: Basic auth for every request. */
  htpasswd?: string;
  /** PEM certificate file: serve HTTPS (with `tlsKey`). */
  tlsCert?: string;
  /** PEM key file of `tlsCert`. */
  tlsKey?: string;
  /** Receives each access-log line; default stderr. `null` logs nothing. */
  log?: ((line: string) => void) | null;
  /** Remove upload sessions idle this long (default 15 minutes). */
  uploadIdleMs?: number;
}

/** A running registry. */
export interface RunningRegistry {
  /** `HOST:PORT` it listens on, usable in image references. */
  addr: string;
  /** `http://HOST:PORT` or `https://…`. */
  url: string;
  /** The layout directory it serves. */
  storage: string;
  /** Stops accepting requests, lets those in flight finish, drops open uploads. */
  shutdown(): Promise<void>;
}

/**
 * Starts a registry; resolves once it listens.
 *
 * @example
 * ```ts
 * import { serveRegistry } from "./server.ts";
 * const registry = await serveRegistry({ addr: "127.0.0.1:0", log: null });
 * const res = await fetch(`${registry.url}/v2/`);
 * console.log(res.headers.get("docker-distribution-api-version")); // "registry/2.0"
 * await res.body?.cancel();
 * await registry.shutdown();
 * ```
 */
export async function serveRegistry(options: ServeOptions = {}): Promise<RunningRegistry> {
  const { hostname, port } = parseAddr(options.addr ?? "127.0.0.1:5000");
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together");
  }
  const tls = options.tlsCert !== undefined
    ? { cert: await readPem(options.tlsCert), key: await readPem(options.tlsKey!) }
    : undefined;
  // bcrypt loads only when asked for: a server without auth needs nothing from npm.
  const auth = options.htpasswd !== undefined
    ? await (await import("./auth.ts")).BasicAuth.fromFile(options.htpasswd)
    : undefined;
  const temporary = options.storage === undefined;
  const dir = options.storage ?? await Deno.makeTempDir({ prefix: "dtool-serve-" });
  const layout = await OciLayout.open(dir, { create: true });
  const uploads = new UploadSessions(layout, { idleMs: options.uploadIdleMs });
  const api = new RegistryApi(new RegistryStorage(layout), uploads);
  const log = options.log === undefined ? (l: string) => console.error(l) : options.log;

  const handler = async (req: Request): Promise<Response> => {
    const started = performance.now();
    const stats: RequestStats = { received: 0 };
    let res: Response;
    try {
      if (auth) await auth.check(req);
      if (options.readOnly && WRITE_METHODS.has(req.method)) {
        throw new RegistryError("UNSUPPORTED", "this registry is read-only");
      }
      res = await api.handle(req, stats);
    } catch (e) {
      if (!req.bodyUsed) await req.body?.cancel().catch(() => {});
      res = errorResponse(e, req.method);
    }
    res.headers.set("docker-distribution-api-version", "registry/2.0");
    if (log) {
      const url = new URL(req.url);
      log(formatAccess({
        method: req.method,
        path: url.pathname + url.search,
        status: res.status,
        bytes: stats.received ||
          (req.method === "HEAD" ? 0 : Number(res.headers.get("content-length") ?? 0)),
        ms: performance.now() - started,
      }));
    }
    return res;
  };

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname, port, ...tls, onListen: () => {} }, handler);
  } catch (e) {
    await uploads.close();
    if (temporary) await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new UsageError(`cannot listen on ${hostname}:${port}: ${(e as Error).message}`);
  }
  const bound = server.addr;
  const host = bound.hostname.includes(":") ? `[${bound.hostname}]` : bound.hostname;
  const addr = `${host}:${bound.port}`;
  let stopped: Promise<void> | undefined;
  return {
    addr,
    url: `${tls ? "https" : "http"}://${addr}`,
    storage: dir,
    shutdown() {
      stopped ??= (async () => {
        await server.shutdown();
        await uploads.close();
        if (temporary) await Deno.remove(dir, { recursive: true }).catch(() => {});
      })();
      return stopped;
    },
  };
}

/**
 * Splits `HOST:PORT` (`[::1]:5000`, `:5000` for every interface).
 *
 * @example
 * ```ts
 * import { parseAddr } from "./server.ts";
 * console.log(parseAddr("[::1]:5000")); // { hostname: "::1", port: 5000 }
 * ```
 */
export function parseAddr(addr: string): { hostname: string; port: number } {
  const m = addr.match(/^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isSafeInteger(port) || port > 65535) {
    throw new UsageError(`invalid address ${JSON.stringify(addr)}: expected HOST:PORT`);
  }
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}

async function readPem(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
}
