/**
 * Credentials and TLS the way Docker users have them, against a real
 * htpasswd registry served over TLS with the suite's own CA.
 */
import assert from "node:assert/strict";
import { dtool as runDtool, type DtoolRun } from "../helpers/dtool.ts";
import { pushOciImage } from "../helpers/images.ts";
import {
  EC_KEY_ARGS,
  makeTestCA,
  run,
  startRegistry,
  type TestRegistry,
} from "../helpers/registry.ts";
import { skopeoInspectRaw } from "../helpers/skopeo.ts";

const USER = "alice";
const PASSWORD = "tls-Pass-8812";

/**
 * Every dtool run in this file traces HTTP (`--debug`), and its stderr must
 * hold neither the password nor the Basic value made of it.
 */
async function dtool(args: string[], opts: { env?: Record<string, string> } = {}) {
  const traced = args[0] === "logout" ? args : [args[0], "--debug", ...args.slice(1)];
  const r = await runDtool(traced, opts);
  for (const secret of [PASSWORD, btoa(`${USER}:${PASSWORD}`)]) {
    assert.ok(!r.stderr.includes(secret), `a secret reached stderr of dtool ${args.join(" ")}`);
  }
  return r;
}

async function dtoolOk(args: string[], opts: { env?: Record<string, string> } = {}) {
  const r: DtoolRun = await dtool(args, opts);
  if (r.code !== 0) throw new Error(`dtool ${args.join(" ")} exited ${r.code}:\n${r.stderr}`);
  return r;
}

/** A credential helper script that answers for one server URL and logs its calls. */
async function writeHelper(
  dir: string,
  name: string,
  serverUrl: string,
  secret = PASSWORD,
): Promise<string> {
  const log = `${dir}/${name}.log`;
  const script = `#!/bin/sh
input=$(cat)
echo "$1 $input" >> "${log}"
case "$1" in
  get)
    if [ "$input" = "${serverUrl}" ]; then
      printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${secret}"}' "$input"
    else
      echo "credentials not found in native keychain"; exit 1
    fi ;;
  store) echo "$input" > "${dir}/${name}.stored" ;;
  erase) rm -f "${dir}/${name}.stored" ;;
esac
`;
  const path = `${dir}/docker-credential-${name}`;
  await Deno.writeTextFile(path, script, { mode: 0o755 });
  return log;
}

Deno.test("credentials and TLS: every source of credentials, verified TLS", async (t) => {
  const work = await Deno.makeTempDir();
  const ca = await makeTestCA(`${work}/ca`);
  const certDir = `${work}/ca`;
  const reg: TestRegistry = await startRegistry({
    htpasswd: { username: USER, password: PASSWORD },
    tls: { certFile: ca.cert, keyFile: ca.key, caCert: ca.caCert },
  });
  const open = await startRegistry();
  const bin = `${work}/bin`;
  await Deno.mkdir(bin);
  const env = (extra: Record<string, string> = {}) => ({
    PATH: `${bin}:${Deno.env.get("PATH")}`,
    DOCKER_CONFIG: `${work}/empty`,
    ...extra,
  });
  const readBack = (ref: string) =>
    skopeoInspectRaw(ref, { creds: `${USER}:${PASSWORD}`, certDir });
  try {
    const fx = await pushOciImage(open, "src/app:1", { layers: 2 });

    await t.step("flags: copy in with --dest-creds and --dest-cert-dir, out again", async () => {
      const r = await dtoolOk([
        "copy",
        "--debug",
        "--dest-creds",
        `${USER}:${PASSWORD}`,
        "--dest-cert-dir",
        certDir,
        `docker://${fx.ref}`,
        `docker://${reg.host}/flags/app:1`,
      ], { env: env() });
      assert.deepEqual(await readBack(`${reg.host}/flags/app:1`), fx.raw);
      assert.match(r.stderr, new RegExp(`GET https://${reg.host}/v2/ 401`));
      assert.doesNotMatch(r.stderr, new RegExp(PASSWORD));
      assert.doesNotMatch(r.stderr, new RegExp(btoa(`${USER}:${PASSWORD}`)));
      await dtoolOk([
        "copy",
        "--src-creds",
        `${USER}:${PASSWORD}`,
        "--src-cert-dir",
        certDir,
        `docker://${reg.host}/flags/app:1`,
        `docker://${open.host}/back/app:1`,
      ], { env: env() });
      assert.deepEqual(await skopeoInspectRaw(`${open.host}/back/app:1`), fx.raw);
    });

    await t.step(
      "a TLS port on loopback costs one plain-HTTP request, as the ping did",
      async () => {
        const r = await dtoolOk([
          "inspect",
          "--raw",
          "--creds",
          `${USER}:${PASSWORD}`,
          "--cert-dir",
          certDir,
          `docker://${reg.host}/flags/app:1`,
        ], { env: env() });
        assert.deepEqual(r.stdoutBytes, fx.raw);
        const trace = r.stderr.split("\n").filter((l) => /debug: (GET|HEAD) /.test(l));
        assert.equal(trace.length, 3, r.stderr);
        assert.match(trace[0], new RegExp(`GET http://${reg.host}/v2/flags/app/manifests/1 400`));
        assert.match(trace[1], new RegExp(`GET https://${reg.host}/v2/ 401`));
        assert.match(trace[2], new RegExp(`GET https://${reg.host}/v2/flags/app/manifests/1 200`));
      },
    );

    await t.step(
      "a certificate that fails verification is an error, loopback included",
      async () => {
        const r = await dtool([
          "inspect",
          "--creds",
          `${USER}:${PASSWORD}`,
          `docker://${reg.host}/flags/app:1`,
        ], {
          env: env(),
        });
        assert.equal(r.code, 1);
        assert.match(
          r.stderr,
          new RegExp(`cannot reach registry ${reg.host}: .*(certificate|UnknownIssuer)`, "i"),
        );
      },
    );

    await t.step("--tls-verify=false reads and writes over unverified TLS", async () => {
      const r = await dtoolOk([
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        `${USER}:${PASSWORD}`,
        `docker://${fx.ref}`,
        `docker://${reg.host}/insecure/app:1`,
      ], { env: env() });
      assert.equal(r.code, 0);
      assert.deepEqual(await readBack(`${reg.host}/insecure/app:1`), fx.raw);
      const i = await dtoolOk([
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        `${USER}:${PASSWORD}`,
        `docker://${reg.host}/insecure/app:1`,
      ], { env: env() });
      assert.deepEqual(i.stdoutBytes, fx.raw);
    });

    await t.step("--authfile auths entry", async () => {
      const authfile = `${work}/auth.json`;
      await Deno.writeTextFile(
        authfile,
        JSON.stringify({ auths: { [reg.host]: { auth: btoa(`${USER}:${PASSWORD}`) } } }),
      );
      const r = await dtoolOk([
        "inspect",
        "--raw",
        "--authfile",
        authfile,
        "--cert-dir",
        certDir,
        `docker://${reg.host}/flags/app:1`,
      ], { env: env() });
      assert.deepEqual(r.stdoutBytes, fx.raw);
    });

    await t.step("REGISTRY_AUTH_FILE serves as --authfile", async () => {
      const r = await dtoolOk([
        "inspect",
        "--raw",
        "--cert-dir",
        certDir,
        `docker://${reg.host}/flags/app:1`,
      ], { env: env({ REGISTRY_AUTH_FILE: `${work}/auth.json` }) });
      assert.deepEqual(r.stdoutBytes, fx.raw);
    });

    await t.step("credHelpers entry runs docker-credential-<name> get", async () => {
      const log = await writeHelper(bin, "dtooltest", reg.host);
      const cfg = `${work}/helpers`;
      await Deno.mkdir(cfg);
      await Deno.writeTextFile(
        `${cfg}/config.json`,
        JSON.stringify({ credHelpers: { [reg.host]: "dtooltest" } }),
      );
      await dtoolOk([
        "copy",
        "--dest-cert-dir",
        certDir,
        `docker://${fx.ref}`,
        `docker://${reg.host}/helper/app:1`,
      ], { env: env({ DOCKER_CONFIG: cfg }) });
      assert.deepEqual(await readBack(`${reg.host}/helper/app:1`), fx.raw);
      assert.match(await Deno.readTextFile(log), new RegExp(`^get ${reg.host}$`, "m"));
    });

    await t.step("credsStore serves every registry without a credHelpers entry", async () => {
      await writeHelper(bin, "dtoolstore", reg.host);
      const cfg = `${work}/store`;
      await Deno.mkdir(cfg);
      await Deno.writeTextFile(`${cfg}/config.json`, JSON.stringify({ credsStore: "dtoolstore" }));
      const r = await dtoolOk([
        "inspect",
        "--raw",
        "--cert-dir",
        certDir,
        `docker://${reg.host}/helper/app:1`,
      ], { env: env({ DOCKER_CONFIG: cfg }) });
      assert.deepEqual(r.stdoutBytes, fx.raw);
    });

    await t.step(
      "a missing helper is explained in one line and the request goes on anonymously",
      async () => {
        const cfg = `${work}/missing`;
        await Deno.mkdir(cfg);
        await Deno.writeTextFile(
          `${cfg}/config.json`,
          JSON.stringify({ credsStore: "nosuchhelper" }),
        );
        const r = await dtool([
          "inspect",
          "--cert-dir",
          certDir,
          `docker://${reg.host}/helper/app:1`,
        ], { env: env({ DOCKER_CONFIG: cfg }) });
        assert.equal(r.code, 3, r.stderr);
        assert.match(
          r.stderr,
          /docker-credential-nosuchhelper is not installed; going on without credentials/,
        );
      },
    );

    await t.step(
      "a helper that fails or has no credentials: one line, then anonymous",
      async () => {
        await Deno.writeTextFile(
          `${bin}/docker-credential-dtoolbroken`,
          "#!/bin/sh\necho 'keychain locked' >&2\nexit 1\n",
          { mode: 0o755 },
        );
        await writeHelper(bin, "dtoolelsewhere", "other.example:5000");
        for (
          const [helper, said] of [
            ["dtoolbroken", /docker-credential-dtoolbroken get failed: keychain locked/],
            [
              "dtoolelsewhere",
              /docker-credential-dtoolelsewhere has no credentials for this registry/,
            ],
          ] as const
        ) {
          const cfg = `${work}/fail-${helper}`;
          await Deno.mkdir(cfg);
          // A good auths entry is there too: a configured helper owns the registry all the same.
          await Deno.writeTextFile(
            `${cfg}/config.json`,
            JSON.stringify({
              credHelpers: { [reg.host]: helper },
              auths: { [reg.host]: { auth: btoa(`${USER}:${PASSWORD}`) } },
            }),
          );
          const r = await dtool([
            "inspect",
            "--cert-dir",
            certDir,
            `docker://${reg.host}/helper/app:1`,
          ], {
            env: env({ DOCKER_CONFIG: cfg }),
          });
          assert.equal(r.code, 3, r.stderr);
          const notes = r.stderr.split("\n").filter((l) => l.startsWith("dtool: note: "));
          assert.equal(notes.length, 1, r.stderr);
          assert.match(notes[0], said);
          assert.match(notes[0], /going on without credentials$/);
        }
      },
    );

    await t.step("sources in Docker's order: flag, credHelpers, credsStore, auths", async () => {
      await writeHelper(bin, "dtoolwrong", reg.host, "not-the-password");
      const wrongAuth = { auth: btoa(`${USER}:not-the-password`) };
      const rightAuth = { auth: btoa(`${USER}:${PASSWORD}`) };
      const cases: [string, unknown, string[], number][] = [
        [
          "flag beats a helper",
          { credsStore: "dtoolwrong" },
          ["--creds", `${USER}:${PASSWORD}`],
          0,
        ],
        [
          "credHelpers beats credsStore",
          {
            credsStore: "dtoolwrong",
            credHelpers: { [reg.host]: "dtooltest" },
          },
          [],
          0,
        ],
        [
          "credsStore beats auths",
          { credsStore: "dtooltest", auths: { [reg.host]: wrongAuth } },
          [],
          0,
        ],
        [
          "credsStore beats auths (wrong store)",
          {
            credsStore: "dtoolwrong",
            auths: { [reg.host]: rightAuth },
          },
          [],
          3,
        ],
        ["auths alone", { auths: { [reg.host]: rightAuth } }, [], 0],
      ];
      for (const [name, config, flags, code] of cases) {
        const cfg = `${work}/order-${name.replaceAll(/\W+/g, "-")}`;
        await Deno.mkdir(cfg);
        await Deno.writeTextFile(`${cfg}/config.json`, JSON.stringify(config));
        const r = await dtool(
          [
            "inspect",
            "--raw",
            ...flags,
            "--cert-dir",
            certDir,
            `docker://${reg.host}/helper/app:1`,
          ],
          { env: env({ DOCKER_CONFIG: cfg }) },
        );
        assert.equal(r.code, code, `${name}: ${r.stderr}`);
      }
    });

    await t.step("wrong password exits 3", async () => {
      const r = await dtool([
        "inspect",
        "--creds",
        `${USER}:wrong`,
        "--cert-dir",
        certDir,
        `docker://${reg.host}/helper/app:1`,
      ], { env: env() });
      assert.equal(r.code, 3, r.stderr);
    });

    await t.step(
      "login checks and stores, logout removes, other keys and mode 0600 kept",
      async () => {
        const cfg = `${work}/login`;
        await Deno.mkdir(cfg);
        const original = {
          auths: { "other.example": { auth: btoa("bob:x") } },
          psFormat: "table {{.ID}}",
          proxies: { default: { httpProxy: "http://proxy.invalid:3128" } },
        };
        await Deno.writeTextFile(`${cfg}/config.json`, JSON.stringify(original));
        const bad = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            new URL("../../cli.ts", import.meta.url).pathname,
            "login",
            "-u",
            USER,
            "--password-stdin",
            "--cert-dir",
            certDir,
            reg.host,
          ],
          env: env({ DOCKER_CONFIG: cfg }),
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const w = bad.stdin.getWriter();
        await w.write(new TextEncoder().encode("wrong-password\n"));
        await w.close();
        const badOut = await bad.output();
        assert.equal(badOut.code, 3);
        assert.deepEqual(JSON.parse(await Deno.readTextFile(`${cfg}/config.json`)), original);

        const good = await dtoolOk(
          ["login", "-u", USER, "-p", PASSWORD, "--cert-dir", certDir, reg.host],
          { env: env({ DOCKER_CONFIG: cfg }) },
        );
        assert.match(good.stderr, /--password is visible to other processes/);
        assert.match(good.stderr, /Login Succeeded/);
        const stored = JSON.parse(await Deno.readTextFile(`${cfg}/config.json`));
        assert.deepEqual(stored.auths[reg.host], { auth: btoa(`${USER}:${PASSWORD}`) });
        assert.deepEqual(stored.auths["other.example"], original.auths["other.example"]);
        assert.equal(stored.psFormat, original.psFormat);
        assert.deepEqual(stored.proxies, original.proxies);
        assert.equal((await Deno.stat(`${cfg}/config.json`)).mode! & 0o777, 0o600);
        // The stored login now serves a copy with no flags.
        await dtoolOk([
          "inspect",
          "--raw",
          "--cert-dir",
          certDir,
          `docker://${reg.host}/helper/app:1`,
        ], {
          env: env({ DOCKER_CONFIG: cfg }),
        });
        await dtoolOk(["logout", reg.host], { env: env({ DOCKER_CONFIG: cfg }) });
        const after = JSON.parse(await Deno.readTextFile(`${cfg}/config.json`));
        assert.deepEqual(after, original);
        assert.equal((await Deno.stat(`${cfg}/config.json`)).mode! & 0o777, 0o600);
      },
    );

    await t.step("login with a credsStore stores through the helper", async () => {
      const cfg = `${work}/loginstore`;
      await Deno.mkdir(cfg);
      await Deno.writeTextFile(`${cfg}/config.json`, JSON.stringify({ credsStore: "dtoolstore" }));
      const r = await dtoolOk(
        ["login", "-u", USER, "-p", PASSWORD, "--cert-dir", certDir, reg.host],
        { env: env({ DOCKER_CONFIG: cfg }) },
      );
      assert.match(r.stderr, /stored with docker-credential-dtoolstore/);
      const stored = JSON.parse(await Deno.readTextFile(`${bin}/dtoolstore.stored`));
      assert.deepEqual(stored, { ServerURL: reg.host, Username: USER, Secret: PASSWORD });
    });
  } finally {
    await reg.stop();
    await open.stop();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("a blob redirected to another host is fetched without Authorization", async () => {
  const reg = await startRegistry({ htpasswd: { username: USER, password: PASSWORD } });
  const open = await startRegistry();
  const basic = `Basic ${btoa(`${USER}:${PASSWORD}`)}`;
  const seenByStorage: (string | null)[] = [];
  // "Blob storage" on another host name (localhost, not 127.0.0.1).
  const storage = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seenByStorage.push(req.headers.get("authorization"));
    const path = new URL(req.url).pathname;
    const res = await fetch(reg.url + path, { headers: { authorization: basic } });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  // The registry's front door redirects blob GETs to storage, as S3-backed registries do.
  const front = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (req.method === "GET" && /\/blobs\/sha256:/.test(url.pathname)) {
      return new Response(null, {
        status: 307,
        headers: { location: `http://localhost:${storage.addr.port}${url.pathname}` },
      });
    }
    const res = await fetch(reg.url + url.pathname + url.search, {
      method: req.method,
      headers: req.headers,
      body: req.body,
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  try {
    const fx = await pushOciImage(open, "redir/app:1", { layers: 2 });
    await dtoolOk([
      "copy",
      "--dest-creds",
      `${USER}:${PASSWORD}`,
      `docker://${fx.ref}`,
      `docker://${reg.host}/redir/app:1`,
    ]);
    const frontHost = `127.0.0.1:${front.addr.port}`;
    const r = await dtoolOk([
      "copy",
      "--src-creds",
      `${USER}:${PASSWORD}`,
      `docker://${frontHost}/redir/app:1`,
      `docker://${open.host}/redir/copy:1`,
    ]);
    assert.equal(r.code, 0);
    assert.deepEqual(await skopeoInspectRaw(`${open.host}/redir/copy:1`), fx.raw);
    assert.equal(seenByStorage.length, 3, "config and two layers came from storage");
    assert.deepEqual(seenByStorage, [null, null, null], "no Authorization crossed hosts");
  } finally {
    await front.shutdown();
    await storage.shutdown();
    await reg.stop();
    await open.stop();
  }
});

Deno.test("mTLS: a registry that requires a client certificate gets one from --cert-dir", async () => {
  const work = await Deno.makeTempDir();
  const ca = await makeTestCA(`${work}/ca`);
  // A client certificate signed by the suite's CA, in a cert dir beside the CA: ca.crt,
  // client.cert, client.key (the layout Docker and skopeo read).
  const certDir = `${work}/client`;
  const caOnly = `${work}/caonly`;
  await Deno.mkdir(certDir);
  await Deno.mkdir(caOnly);
  await Deno.copyFile(ca.caCert, `${certDir}/ca.crt`);
  await Deno.copyFile(ca.caCert, `${caOnly}/ca.crt`);
  await Deno.writeTextFile(`${work}/client.ext`, "extendedKeyUsage=clientAuth\n");
  await run("openssl", [
    "req",
    ...EC_KEY_ARGS,
    "-keyout",
    `${certDir}/client.key`,
    "-out",
    `${work}/client.csr`,
    "-subj",
    "/CN=dtool client",
  ]);
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    `${work}/client.csr`,
    "-CA",
    ca.caCert,
    "-CAkey",
    `${work}/ca/ca.key.pem`,
    "-CAcreateserial",
    "-out",
    `${certDir}/client.cert`,
    "-days",
    "2",
    "-extfile",
    `${work}/client.ext`,
  ]);
  const reg = await startRegistry({
    tls: { certFile: ca.cert, keyFile: ca.key, clientCAs: [ca.caCert] },
  });
  const open = await startRegistry();
  try {
    const fx = await pushOciImage(open, "mtls/app:1");
    await dtoolOk([
      "copy",
      "-q",
      "--dest-cert-dir",
      certDir,
      `docker://${fx.ref}`,
      `docker://${reg.host}/mtls/app:1`,
    ]);
    assert.deepEqual(await skopeoInspectRaw(`${reg.host}/mtls/app:1`, { certDir }), fx.raw);
    const withCert = await dtoolOk([
      "inspect",
      "--raw",
      "--cert-dir",
      certDir,
      `docker://${reg.host}/mtls/app:1`,
    ]);
    assert.deepEqual(withCert.stdoutBytes, fx.raw);
    // Verification off still sends the client certificate.
    const unverified = await dtoolOk([
      "inspect",
      "--raw",
      "--tls-verify=false",
      "--cert-dir",
      certDir,
      `docker://${reg.host}/mtls/app:1`,
    ]);
    assert.deepEqual(unverified.stdoutBytes, fx.raw);
    const without = await dtool([
      "inspect",
      "--raw",
      "--cert-dir",
      caOnly,
      `docker://${reg.host}/mtls/app:1`,
    ]);
    assert.equal(without.code, 1, without.stderr);
    assert.match(
      without.stderr,
      new RegExp(`dtool: inspect .*: cannot reach registry ${reg.host}`),
    );
  } finally {
    await reg.stop();
    await open.stop();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("HTTPS_PROXY, HTTP_PROXY and NO_PROXY are honoured, verified TLS or not", async (t) => {
  const { startConnectProxy } = await import("../helpers/connect_proxy.ts");
  const work = await Deno.makeTempDir();
  const ca = await makeTestCA(`${work}/ca`);
  const reg = await startRegistry({
    tls: { certFile: ca.cert, keyFile: ca.key, caCert: ca.caCert },
  });
  const open = await startRegistry();
  const proxy = startConnectProxy();
  try {
    const fx = await pushOciImage(open, "proxy/app:1");
    await dtoolOk([
      "copy",
      "-q",
      "--dest-cert-dir",
      `${work}/ca`,
      `docker://${fx.ref}`,
      `docker://${reg.host}/proxy/app:1`,
    ]);
    const inspect = (flags: string[], env: Record<string, string>) =>
      dtoolOk(["inspect", "--raw", ...flags, `docker://${reg.host}/proxy/app:1`], { env });

    await t.step("HTTPS_PROXY tunnels verified TLS", async () => {
      proxy.seen.length = 0;
      const r = await inspect(["--cert-dir", `${work}/ca`], { HTTPS_PROXY: proxy.url });
      assert.deepEqual(r.stdoutBytes, fx.raw);
      assert.ok(proxy.seen.includes(`CONNECT ${reg.host}`), proxy.seen.join(", "));
    });
    await t.step("HTTPS_PROXY tunnels unverified TLS too", async () => {
      proxy.seen.length = 0;
      const r = await inspect(["--tls-verify=false"], { HTTPS_PROXY: proxy.url });
      assert.deepEqual(r.stdoutBytes, fx.raw);
      assert.ok(proxy.seen.includes(`CONNECT ${reg.host}`), proxy.seen.join(", "));
    });
    await t.step("NO_PROXY bypasses the proxy", async () => {
      proxy.seen.length = 0;
      await inspect(["--cert-dir", `${work}/ca`], {
        HTTPS_PROXY: proxy.url,
        NO_PROXY: "127.0.0.1",
      });
      await inspect(["--tls-verify=false"], { HTTPS_PROXY: proxy.url, NO_PROXY: "127.0.0.1" });
      assert.deepEqual(proxy.seen, []);
    });
    await t.step("HTTP_PROXY carries plain HTTP", async () => {
      proxy.seen.length = 0;
      const r = await dtoolOk(["inspect", "--raw", `docker://${fx.ref}`], {
        env: { HTTP_PROXY: proxy.url },
      });
      assert.deepEqual(r.stdoutBytes, fx.raw);
      assert.ok(
        proxy.seen.some((s) => s.startsWith(`GET http://${open.host}/v2/`)),
        proxy.seen.join(", "),
      );
    });
  } finally {
    await proxy.stop();
    await reg.stop();
    await open.stop();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("an upload Location on another host gets no credentials", async () => {
  const reg = await startRegistry({ htpasswd: { username: USER, password: PASSWORD } });
  const open = await startRegistry();
  const basic = `Basic ${btoa(`${USER}:${PASSWORD}`)}`;
  const seenByOther: (string | null)[] = [];
  const forward = async (req: Request, auth: string | null) => {
    const url = new URL(req.url);
    const headers = new Headers(req.headers);
    headers.delete("host");
    if (auth) headers.set("authorization", auth);
    const res = await fetch(reg.url + url.pathname + url.search, {
      method: req.method,
      headers,
      body: req.body,
    });
    return res;
  };
  // The upload host: another origin (localhost, not 127.0.0.1), which reaches the registry itself.
  const other = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seenByOther.push(req.headers.get("authorization"));
    const res = await forward(req, basic);
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  // The registry's front door hands out upload Locations on the other host.
  const front = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const res = await forward(req, req.headers.get("authorization"));
    const headers = new Headers(res.headers);
    const location = headers.get("location");
    if (location && new URL(req.url).pathname.includes("/blobs/uploads/")) {
      const u = new URL(location, reg.url);
      headers.set("location", `http://localhost:${other.addr.port}${u.pathname}${u.search}`);
    }
    return new Response(res.body, { status: res.status, headers });
  });
  try {
    const fx = await pushOciImage(open, "loc/app:1", { layers: 2 });
    await dtoolOk([
      "copy",
      "-q",
      "--dest-creds",
      `${USER}:${PASSWORD}`,
      `docker://${fx.ref}`,
      `docker://127.0.0.1:${front.addr.port}/loc/app:1`,
    ]);
    assert.deepEqual(
      await skopeoInspectRaw(`${reg.host}/loc/app:1`, { creds: `${USER}:${PASSWORD}` }),
      fx.raw,
    );
    assert.equal(seenByOther.length, 3, "config and two layers went to the other host");
    assert.deepEqual(seenByOther, [null, null, null], "no credentials went with them");
  } finally {
    await front.shutdown();
    await other.shutdown();
    await reg.stop();
    await open.stop();
  }
});

Deno.test("the system certs.d directory of a registry serves as its cert dir", async () => {
  const work = await Deno.makeTempDir();
  const ca = await makeTestCA(`${work}/ca`);
  const reg = await startRegistry({
    tls: { certFile: ca.cert, keyFile: ca.key, caCert: ca.caCert },
  });
  const open = await startRegistry();
  // Docker's layout: /etc/docker/certs.d/HOST:PORT/ca.crt. The port is this run's own, so the
  // folder is new; it is removed at the end.
  const dir = `/etc/docker/certs.d/${reg.host}`;
  try {
    try {
      await Deno.mkdir(dir, { recursive: true });
      await Deno.copyFile(ca.caCert, `${dir}/ca.crt`);
    } catch (e) {
      if (!(e instanceof Deno.errors.PermissionDenied)) throw e;

      console.log(`skipped: cannot write ${dir} without root`);
      return;
    }
    const fx = await pushOciImage(open, "certsd/app:1");
    await dtoolOk(["copy", "-q", `docker://${fx.ref}`, `docker://${reg.host}/certsd/app:1`]);
    const r = await dtoolOk(["inspect", "--raw", `docker://${reg.host}/certsd/app:1`]);
    assert.deepEqual(r.stdoutBytes, fx.raw);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await reg.stop();
    await open.stop();
    await Deno.remove(work, { recursive: true });
  }
});
