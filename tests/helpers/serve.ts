/**
 * `dtool serve` for tests: in this process (through the library entry), or
 * as a `dtool serve` subprocess when a test must kill it. Both look like a
 * {@linkcode TestRegistry}, so the image and skopeo helpers work on them.
 *
 * @module
 */
import { type ServeOptions, serveRegistry } from "../../mod.ts";
import { spawnDtool } from "./dtool.ts";
import { freePort, makeTestCA, run, type TestRegistry } from "./registry.ts";

/** Options of {@linkcode startServe}. */
export interface TestServeOptions extends Omit<ServeOptions, "htpasswd" | "tlsCert" | "tlsKey"> {
  /** Require these credentials (an htpasswd file is written with `htpasswd -B`). */
  htpasswd?: { username: string; password: string };
  /** Serve HTTPS with a certificate of a fresh test CA (its dir works as a cert dir). */
  tls?: boolean;
}

/** A `dtool serve` started by a test. */
export interface TestServe extends TestRegistry {
  /** The layout it serves. */
  storage: string;
  /** Access-log lines so far (in-process servers). */
  log: string[];
  /** The cert dir (with `ca.crt`) of a TLS server. */
  certDir?: string;
}

/** Starts `dtool serve` in this process on a free loopback port. */
export async function startServe(opts: TestServeOptions = {}): Promise<TestServe> {
  const dir = await Deno.makeTempDir({ prefix: "dtool-serve-test-" });
  const extra: ServeOptions = {};
  if (opts.htpasswd) {
    const line = await run("htpasswd", ["-Bbn", opts.htpasswd.username, opts.htpasswd.password]);
    extra.htpasswd = `${dir}/htpasswd`;
    await Deno.writeTextFile(extra.htpasswd, line.trim() + "\n");
  }
  let ca: { caCert: string; cert: string; key: string } | undefined;
  if (opts.tls) {
    ca = await makeTestCA(`${dir}/certs`);
    extra.tlsCert = ca.cert;
    extra.tlsKey = ca.key;
  }
  const log: string[] = [];
  const storage = opts.storage ?? `${dir}/storage`;
  const { htpasswd: _h, tls: _t, ...rest } = opts;
  const reg = await serveRegistry({
    addr: "127.0.0.1:0",
    log: (l) => log.push(l),
    ...rest,
    ...extra,
    storage,
  });
  let stopped: Promise<void> | undefined;
  return {
    host: reg.addr,
    url: reg.url,
    root: storage,
    storage,
    dir,
    logFile: "",
    log,
    certDir: ca ? `${dir}/certs` : undefined,
    auth: opts.htpasswd ? { ...opts.htpasswd } : undefined,
    tls: ca ? { certFile: ca.cert, keyFile: ca.key, caCert: ca.caCert } : undefined,
    stop() {
      stopped ??= reg.shutdown().then(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
      return stopped;
    },
    logTail: (n = 30) => Promise.resolve(log.slice(-n).join("\n")),
  };
}

/** A `dtool serve` subprocess on `storage`; `kill()` ends it without a clean shutdown. */
export async function spawnServe(storage: string): Promise<{
  host: string;
  child: Deno.ChildProcess;
  stderr: () => string;
  kill(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}> {
  const host = `127.0.0.1:${freePort()}`;
  const child = spawnDtool(["serve", "--addr", host, "--storage", storage]);
  let text = "";
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  child.stdout.cancel();
  const deadline = Date.now() + 20_000;
  while (!text.includes("dtool: serving")) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error(`dtool serve did not start:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  let status: Promise<Deno.CommandStatus> | undefined;
  return {
    host,
    child,
    stderr: () => text,
    kill(signal: Deno.Signal = "SIGKILL") {
      status ??= (async () => {
        try {
          child.kill(signal);
        } catch { /* gone */ }
        const s = await child.status;
        await reading;
        return s;
      })();
      return status;
    },
  };
}
