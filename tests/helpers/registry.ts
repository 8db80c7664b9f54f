/**
 * Throw-away CNCF distribution (`docker-registry` 2.8) instances for integration tests.
 *
 * Every registry lives in its own temp dir (config, storage, htpasswd, log) and is torn down by
 * {@linkcode TestRegistry.stop}. Safe under `deno test` sanitizers: the child process is always
 * awaited and every HTTP client / response body is closed.
 *
 * @module
 */

/** Path of the registry binary (Debian package `docker-registry`). */
export const REGISTRY_BIN = "/usr/bin/docker-registry";

/** A running test registry. */
export interface TestRegistry {
  /** `"127.0.0.1:PORT"` — usable as the registry part of an image reference. */
  host: string;
  /** `"http://127.0.0.1:PORT"`, or `"https://..."` when started with `tls`. */
  url: string;
  /** Temp storage dir (filesystem driver `rootdirectory`). */
  root: string;
  /** Temp dir holding config, htpasswd file, log and `root`; removed by `stop()`. */
  dir: string;
  /** Registry log file (stdout + stderr of the process). */
  logFile: string;
  /** Basic-auth credentials when started with `htpasswd`. */
  auth?: { username: string; password: string };
  /** TLS material when started with `tls` (`caCert` only if the caller passed one). */
  tls?: { certFile: string; keyFile: string; caCert?: string; clientCAs?: string[] };
  /** Kills the process, awaits its exit and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Last lines of the registry log (for assertion messages). */
  logTail(lines?: number): Promise<string>;
}

/** Options for {@linkcode startRegistry}. */
export interface RegistryOptions {
  /** Enable basic auth backed by a bcrypt htpasswd file (`htpasswd -Bbn`). */
  htpasswd?: { username: string; password: string };
  /**
   * Serve https with this certificate/key (see {@linkcode makeTestCA}). `caCert` is optional and
   * only recorded on the returned registry (used by {@linkcode registryFetch} / readiness check;
   * without it readiness is checked with certificate verification disabled via a plain TCP probe).
   * `clientCAs` makes the registry require client certificates signed by them (mTLS); leave
   * `caCert` out then, so readiness is a TCP probe.
   */
  tls?: { certFile: string; keyFile: string; caCert?: string; clientCAs?: string[] };
  /**
   * Raw YAML appended verbatim at the top level of the config, e.g. a whole `auth:` section
   * (`"auth:\n  token:\n    realm: ...\n"`). Must not repeat a section the helper writes itself
   * (`version`, `log`, `storage`, `http`, `health`, and `auth` when `htpasswd` is set).
   */
  extraConfig?: string;
  /** Allow deletes (`storage.delete.enabled`; default true). */
  deletes?: boolean;
  /** Startup timeout in ms (default 10 000). */
  timeoutMs?: number;
}

/** Returns a currently free TCP port on 127.0.0.1 (bind to port 0, read it, close). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** openssl arguments for a new EC P-256 key, unencrypted. */
export const EC_KEY_ARGS = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** Runs a command, returning its stdout; throws with its stderr when it fails. */
export async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** Quote a string as a YAML double-quoted scalar. */
function yq(s: string): string {
  return JSON.stringify(s);
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    const text = await Deno.readTextFile(file);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Probe `GET /v2/` once; returns the status or `undefined` when not reachable yet. */
async function probe(url: string, caCert?: string): Promise<number | undefined> {
  let client: Deno.HttpClient | undefined;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 1000);
  try {
    if (url.startsWith("https:")) {
      if (!caCert) {
        // No CA known: a successful TLS-less TCP connect is the best we can do.
        const u = new URL(url);
        const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
        conn.close();
        return 200;
      }
      client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(caCert)] });
    }
    const res = await fetch(`${url}/v2/`, { client, signal: ctl.signal });
    await res.body?.cancel();
    return res.status;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    client?.close();
  }
}

/**
 * Starts `docker-registry serve` on a free 127.0.0.1 port with filesystem storage in a temp dir,
 * deletes enabled, no health checks and error-level logging captured to `logFile`. Resolves once
 * `GET /v2/` answers 200 or 401; on failure the process is stopped and the error includes the
 * log tail. Retries with a new port if the chosen one was grabbed in the meantime.
 */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts);
    } catch (e) {
      lastErr = e;
      if (!String(e).includes("address already in use")) throw e;
    }
  }
  throw lastErr;
}

async function startOnce(opts: RegistryOptions): Promise<TestRegistry> {
  const dir = await Deno.makeTempDir({ prefix: "dtool-registry-" });
  const root = `${dir}/storage`;
  const logFile = `${dir}/registry.log`;
  const configFile = `${dir}/config.yml`;
  await Deno.mkdir(root);
  const port = freePort();
  const host = `127.0.0.1:${port}`;
  const url = `${opts.tls ? "https" : "http"}://${host}`;

  const secret = crypto.randomUUID();
  let yaml = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${yq(root)}
  delete:
    enabled: ${opts.deletes ?? true}
  maintenance:
    uploadpurging:
      enabled: false
health:
  storagedriver:
    enabled: false
http:
  addr: ${yq(host)}
  secret: ${yq(secret)}
  headers:
    X-Content-Type-Options: [nosniff]
`;
  if (opts.tls) {
    yaml += `  tls:
    certificate: ${yq(opts.tls.certFile)}
    key: ${yq(opts.tls.keyFile)}
`;
    // Client certificates signed by these CAs are required (mTLS).
    if (opts.tls.clientCAs?.length) {
      yaml += `    clientcas:\n${opts.tls.clientCAs.map((c) => `      - ${yq(c)}\n`).join("")}`;
    }
  }
  if (opts.htpasswd) {
    const line = await run("htpasswd", [
      "-Bbn",
      opts.htpasswd.username,
      opts.htpasswd.password,
    ]);
    const htfile = `${dir}/htpasswd`;
    await Deno.writeTextFile(htfile, line.trim() + "\n");
    yaml += `auth:
  htpasswd:
    realm: dtool-test
    path: ${yq(htfile)}
`;
  }
  if (opts.extraConfig) {
    yaml += opts.extraConfig.endsWith("\n") ? opts.extraConfig : opts.extraConfig + "\n";
  }
  await Deno.writeTextFile(configFile, yaml);

  // `exec` keeps the pid, so killing the child kills the registry itself; the shell only sets up
  // the redirection into the log file (Deno.Command cannot redirect into a file directly).
  const child = new Deno.Command("sh", {
    args: ["-c", 'exec "$0" serve "$1" >"$2" 2>&1', REGISTRY_BIN, configFile, logFile],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();

  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* already gone */ }
        const t = setTimeout(() => {
          try {
            if (!exited) child.kill("SIGKILL");
          } catch { /* already gone */ }
        }, 3000);
        await status;
        clearTimeout(t);
      } else {
        await status;
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
    return stopped;
  };

  const reg: TestRegistry = {
    host,
    url,
    root,
    dir,
    logFile,
    auth: opts.htpasswd ? { ...opts.htpasswd } : undefined,
    tls: opts.tls ? { ...opts.tls } : undefined,
    stop,
    logTail: (n) => tail(logFile, n),
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  while (true) {
    if (exited) {
      const s = await status;
      const log = await tail(logFile);
      await stop();
      throw new Error(`docker-registry exited during startup (code ${s.code}):\n${log}`);
    }
    const st = await probe(url, opts.tls?.caCert);
    if (st === 200 || st === 401) return reg;
    if (Date.now() > deadline) {
      const log = await tail(logFile);
      await stop();
      throw new Error(
        `docker-registry at ${url} not ready after ${opts.timeoutMs ?? 10_000} ms ` +
          `(last status ${st ?? "unreachable"}):\n${log}`,
      );
    }
    await delay(50);
  }
}

/** Buffered result of {@linkcode registryFetch}. */
export interface RegistryResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** Body decoded as UTF-8. */
  text(): string;
  /** Body parsed as JSON. */
  json<T = unknown>(): T;
}

/**
 * One HTTP request against a test registry, bypassing dtool. Adds basic auth (unless
 * `anonymous`) and trusts `reg.tls.caCert`; the response body is fully read so no resource leaks.
 * `path` starts with `/v2/...`, or is an absolute URL (e.g. an upload `Location`).
 */
export async function registryFetch(
  reg: TestRegistry,
  path: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: Uint8Array | string;
    anonymous?: boolean;
  } = {},
): Promise<RegistryResponse> {
  const headers = new Headers(init.headers);
  if (reg.auth && !init.anonymous && !headers.has("authorization")) {
    headers.set("authorization", "Basic " + btoa(`${reg.auth.username}:${reg.auth.password}`));
  }
  const client = reg.tls?.caCert
    ? Deno.createHttpClient({ caCerts: [await Deno.readTextFile(reg.tls.caCert)] })
    : undefined;
  try {
    const res = await fetch(/^https?:/.test(path) ? path : reg.url + path, {
      method: init.method ?? "GET",
      headers,
      body: init.body as BodyInit | undefined,
      redirect: "manual",
      client,
    });
    const body = new Uint8Array(await res.arrayBuffer());
    return {
      status: res.status,
      headers: res.headers,
      body,
      text: () => new TextDecoder().decode(body),
      json: <T>() => JSON.parse(new TextDecoder().decode(body)) as T,
    };
  } finally {
    client?.close();
  }
}

function isIp(h: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(h) || h.includes(":");
}

/**
 * Creates a test CA and a server certificate signed by it (EC P-256, SANs for `hosts` plus
 * 127.0.0.1, ::1 and localhost) with openssl. Files written to `dir`:
 * `ca.crt` (CA cert), `server.cert.pem`, `server.key.pem` and `ca.key.pem`.
 * Only `ca.crt` has a `.crt`/`.cert`/`.key` suffix, so `dir` can be passed directly as
 * skopeo's `--cert-dir` / `--src-cert-dir` / `--dest-cert-dir`.
 */
export async function makeTestCA(
  dir: string,
  hosts: string[] = [],
): Promise<{ caCert: string; cert: string; key: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const caCert = `${dir}/ca.crt`;
  const caKey = `${dir}/ca.key.pem`;
  const cert = `${dir}/server.cert.pem`;
  const key = `${dir}/server.key.pem`;
  const csr = `${dir}/server.csr.pem`;
  const ext = `${dir}/server.ext`;
  const all = [...new Set([...hosts, "127.0.0.1", "::1", "localhost"])];
  const san = all.map((h) => (isIp(h) ? `IP:${h}` : `DNS:${h}`)).join(",");

  await selfSignedCert(caKey, caCert, "/CN=dtool test CA", [
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await run("openssl", [
    "req",
    "-new",
    ...EC_KEY_ARGS,
    "-keyout",
    key,
    "-out",
    csr,
    "-subj",
    `/CN=${all[0]}`,
  ]);
  await Deno.writeTextFile(
    ext,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=${san}`,
      "",
    ].join("\n"),
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    caCert,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-CAserial",
    `${dir}/ca.srl`,
    "-out",
    cert,
    "-days",
    "2",
    "-extfile",
    ext,
  ]);
  await Deno.remove(csr).catch(() => {});
  return { caCert, cert, key };
}

/** A self-signed EC P-256 certificate and key (openssl), valid for two days. */
export async function selfSignedCert(
  keyFile: string,
  certFile: string,
  subject: string,
  extra: string[] = [],
) {
  await run("openssl", [
    "req",
    "-x509",
    ...EC_KEY_ARGS,
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    subject,
    ...extra,
  ]);
}
