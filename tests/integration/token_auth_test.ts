/**
 * Token authentication as Docker Hub does it: a real registry configured
 * with `auth: token`, in front of a token server written for the tests that
 * signs JWTs with a key the registry trusts.
 */
import assert from "node:assert/strict";
import { DockerResolver } from "../../mod.ts";
import { dtool as runDtool } from "../helpers/dtool.ts";
import { pushOciImage } from "../helpers/images.ts";
import { startRegistry } from "../helpers/registry.ts";
import { startTokenServer } from "../helpers/token_server.ts";

const USER = "carol";
const PASSWORD = "token-Pw-4471";
const REFRESH = "refresh-token-0f9e8d7c";

Deno.test("token auth: anonymous pull, authenticated push, one token per scope, refresh grant, expiry", async (t) => {
  const dir = await Deno.makeTempDir();
  const tokens = await startTokenServer(dir, {
    users: { [USER]: PASSWORD },
    refreshTokens: { [REFRESH]: USER },
    publicPrefix: "public/",
  });
  const reg = await startRegistry({ extraConfig: tokens.registryConfig() });
  const open = await startRegistry();
  const noConfig = { DOCKER_CONFIG: `${dir}/none` };
  /** A DOCKER_CONFIG folder holding `config`; returns the environment that points at it. */
  const dockerConfig = async (name: string, config: unknown) => {
    await Deno.mkdir(`${dir}/${name}`);
    await Deno.writeTextFile(`${dir}/${name}/config.json`, JSON.stringify(config));
    return { DOCKER_CONFIG: `${dir}/${name}` };
  };
  const secrets = () => [PASSWORD, REFRESH, btoa(`${USER}:${PASSWORD}`), ...tokens.issued];
  const assertNoSecrets = (text: string) => {
    for (const s of secrets()) assert.ok(!text.includes(s), "a secret leaked into the output");
  };
  // Every run traces HTTP, and no password, refresh token or issued token may show in it.
  const dtool = async (args: string[], opts: { env?: Record<string, string> } = {}) => {
    const r = await runDtool([args[0], "--debug", ...args.slice(1)], opts);
    assertNoSecrets(r.stderr);
    return r;
  };
  const dtoolOk = async (args: string[], opts: { env?: Record<string, string> } = {}) => {
    const r = await dtool(args, opts);
    if (r.code !== 0) throw new Error(`dtool ${args.join(" ")} exited ${r.code}:\n${r.stderr}`);
    return r;
  };
  try {
    const fx = await pushOciImage(open, "src/app:1", { layers: 3 });

    await t.step("authenticated push takes one token for the whole copy", async () => {
      const before = tokens.requests.length;
      const r = await dtoolOk([
        "copy",
        "--debug",
        "--dest-creds",
        `${USER}:${PASSWORD}`,
        `docker://${fx.ref}`,
        `docker://${reg.host}/public/app:1`,
      ], { env: noConfig });
      const made = tokens.requests.slice(before);
      assert.equal(made.length, 1, JSON.stringify(made));
      assert.deepEqual(made[0].scopes, ["repository:public/app:pull,push"]);
      assert.equal(made[0].user, USER);
      assertNoSecrets(r.stderr);
    });

    await t.step("anonymous pull of a public repository", async () => {
      const before = tokens.requests.length;
      const r = await dtoolOk(
        ["inspect", "--raw", "--debug", `docker://${reg.host}/public/app:1`],
        {
          env: noConfig,
        },
      );
      assert.deepEqual(r.stdoutBytes, fx.raw);
      // No ping: the manifest GET's 401 brings the challenge, and the GET is sent again.
      const gets = r.stderr.split("\n").filter((l) => l.includes("/manifests/1 "));
      assert.equal(gets.length, 2, r.stderr);
      assert.match(gets[0], / 401 /);
      assert.match(gets[1], / 200 /);
      assert.doesNotMatch(r.stderr, new RegExp(`GET [^ ]*${reg.host}/v2/ `));
      const made = tokens.requests.slice(before);
      assert.equal(made.length, 1);
      assert.equal(made[0].user, undefined);
      assert.deepEqual(made[0].scopes, ["repository:public/app:pull"]);
      assertNoSecrets(r.stderr);
    });

    await t.step("anonymous access to a private repository is refused with exit 3", async () => {
      await dtoolOk([
        "copy",
        "--dest-creds",
        `${USER}:${PASSWORD}`,
        `docker://${fx.ref}`,
        `docker://${reg.host}/private/app:1`,
      ], { env: noConfig });
      const r = await dtool(["inspect", `docker://${reg.host}/private/app:1`], { env: noConfig });
      assert.equal(r.code, 3, r.stderr);
    });

    await t.step(
      "a copy inside the registry mounts with one token covering both repositories",
      async () => {
        const before = tokens.requests.length;
        const r = await dtoolOk([
          "copy",
          "--progress=json",
          "--src-creds",
          `${USER}:${PASSWORD}`,
          "--dest-creds",
          `${USER}:${PASSWORD}`,
          `docker://${reg.host}/public/app:1`,
          `docker://${reg.host}/private/mounted:1`,
        ], { env: noConfig });
        const mounted = r.stderr.split("\n").filter((l) => l.includes('"reason":"mounted"'));
        assert.equal(mounted.length, 4, "config and three layers mounted");
        const made = tokens.requests.slice(before).map((q) => q.scopes.join(" "));
        assert.deepEqual(made.sort(), [
          "repository:private/mounted:pull,push repository:public/app:pull",
          "repository:public/app:pull",
        ]);
      },
    );

    await t.step("wrong password: the token server refuses, exit 3", async () => {
      const r = await dtool([
        "inspect",
        "--creds",
        `${USER}:nope`,
        `docker://${reg.host}/private/app:1`,
      ], {
        env: noConfig,
      });
      assert.equal(r.code, 3, r.stderr);
      assert.doesNotMatch(r.stderr, /nope/);
    });

    await t.step(
      "an identitytoken in the config is exchanged with the refresh_token grant",
      async () => {
        const env = await dockerConfig("identity", {
          auths: { [reg.host]: { auth: btoa(`${USER}:`), identitytoken: REFRESH } },
        });
        const before = tokens.requests.length;
        const r = await dtoolOk([
          "inspect",
          "--raw",
          "--debug",
          `docker://${reg.host}/private/app:1`,
        ], {
          env,
        });
        assert.deepEqual(r.stdoutBytes, fx.raw);
        const made = tokens.requests.slice(before);
        assert.equal(made.length, 1);
        assert.equal(made[0].method, "POST");
        assert.equal(made[0].grant, "refresh_token");
        assert.equal(made[0].user, USER);
        assertNoSecrets(r.stderr);
      },
    );

    await t.step("a realm without OAuth2 gets the identitytoken by GET with Basic", async () => {
      tokens.refusePost = true;
      try {
        const env = await dockerConfig("identity-get", {
          auths: { [reg.host]: { auth: btoa(`${USER}:`), identitytoken: REFRESH } },
        });
        const before = tokens.requests.length;
        const r = await dtoolOk(["inspect", "--raw", `docker://${reg.host}/private/app:1`], {
          env,
        });
        assert.deepEqual(r.stdoutBytes, fx.raw);
        const made = tokens.requests.slice(before);
        assert.deepEqual(made.map((q) => [q.method, q.authorized]), [["POST", false], [
          "GET",
          true,
        ]]);
      } finally {
        tokens.refusePost = false;
      }
    });

    await t.step("a registrytoken in the config is sent as the bearer token", async () => {
      tokens.expiresIn = 300;
      const resolver = new DockerResolver({
        credentials: () => Promise.resolve({ username: USER, password: PASSWORD }),
      });
      await resolver.resolve(`${reg.host}/private/app:1`);
      const token = tokens.issued.at(-1)!;
      const env = await dockerConfig("registrytoken", {
        auths: { [reg.host]: { registrytoken: token } },
      });
      const before = tokens.requests.length;
      const r = await dtoolOk(["inspect", "--raw", `docker://${reg.host}/private/app:1`], {
        env,
      });
      assert.deepEqual(r.stdoutBytes, fx.raw);
      assert.equal(tokens.requests.length, before, "no token request was needed");
    });

    await t.step("an expired token is fetched again; a live one is reused", async () => {
      tokens.expiresIn = 1;
      const resolver = new DockerResolver({
        credentials: () => Promise.resolve({ username: USER, password: PASSWORD }),
      });
      const before = tokens.requests.length;
      await resolver.resolve(`${reg.host}/private/app:1`);
      await resolver.resolve(`${reg.host}/private/app:1`);
      assert.equal(tokens.requests.length - before, 1, "reused while live");
      await new Promise((r) => setTimeout(r, 1100));
      await resolver.resolve(`${reg.host}/private/app:1`);
      assert.equal(tokens.requests.length - before, 2, "fetched again once expired");
      tokens.expiresIn = 300;
    });
  } finally {
    await reg.stop();
    await open.stop();
    await tokens.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
