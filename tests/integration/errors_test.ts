/**
 * What users see when things go wrong: one line, the right exit code, no
 * stack trace, no secret — against real registries, htpasswd included.
 */
import assert from "node:assert/strict";
import { dtool, dtoolOk, sha256 } from "../helpers/dtool.ts";
import { pushOciImage, pushOciIndex } from "../helpers/images.ts";
import { freePort, startRegistry } from "../helpers/registry.ts";
import { skopeoInspectRaw } from "../helpers/skopeo.ts";

/** Progress lines may come first; the error is one `dtool:` line, and the last. */
function assertOneLineError(stderr: string, pattern: RegExp) {
  const lines = stderr.trim().split("\n");
  const errors = lines.filter((l) => l.startsWith("dtool: "));
  assert.equal(errors.length, 1, `one error line:\n${stderr}`);
  assert.equal(errors[0], lines.at(-1));
  assert.match(errors[0], pattern);
  assert.doesNotMatch(stderr, /\bat .*\.ts:\d+/, "no stack trace");
}

Deno.test("bad input exits 2 with one line naming what was wrong", async (t) => {
  await t.step("malformed reference", async () => {
    const r = await dtool(["inspect", "docker://Upper/Case:1"]);
    assert.equal(r.code, 2);
    assertOneLineError(
      r.stderr,
      /^dtool: inspect docker:\/\/Upper\/Case:1: invalid reference format/,
    );
  });
  await t.step("unknown transport", async () => {
    const r = await dtool(["copy", "docker-daemon:x:1", "docker://127.0.0.1:1/x:1"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /transport.*docker-daemon/);
  });
  await t.step("malformed platform", async () => {
    const r = await dtool(["copy", "--platform", "linux/", "docker://a/b:1", "docker://c/d:1"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /invalid platform "linux\/"/);
  });
  await t.step("credentials without a colon, value not echoed", async () => {
    const r = await dtool(["inspect", "--creds", "justapassword", "docker://127.0.0.1:1/x:1"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /--creds must be USER:PASSWORD/);
    assert.doesNotMatch(r.stderr, /justapassword/);
  });
  await t.step("unknown flag", async () => {
    const r = await dtool(["copy", "--frobnicate", "a", "b"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /unknown option '--frobnicate'/);
  });
  await t.step("--jobs below 1", async () => {
    const r = await dtool(["copy", "--jobs", "0", "docker://a/b:1", "docker://c/d:1"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /'--jobs <n>' argument '0' is invalid\. expected 1 or more/);
  });
  await t.step("--all with --platform", async () => {
    const r = await dtool([
      "copy",
      "--all",
      "--platform",
      "linux/amd64",
      "docker://a/b:1",
      "docker://c/d:1",
    ]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /--all and --platform/);
  });
  await t.step("no command at all shows the help and exits 2", async () => {
    const r = await dtool([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Usage: dtool/);
    assert.equal(r.stdout, "");
  });
  await t.step("a destination with both a tag and a digest", async () => {
    const r = await dtool([
      "copy",
      "docker://a/b:1",
      `docker://c/d:2@sha256:${"a".repeat(64)}`,
    ]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /both a tag and a digest/);
  });
  await t.step("list-tags of a tagged reference", async () => {
    const r = await dtool(["list-tags", "docker://127.0.0.1:1/x:1"]);
    assert.equal(r.code, 2);
    assertOneLineError(r.stderr, /takes a repository/);
  });
});

Deno.test("missing images and platforms exit 4", async (t) => {
  const reg = await startRegistry();
  const dst = await startRegistry();
  try {
    await t.step("a tag that does not exist", async () => {
      const r = await dtool(["inspect", `docker://${reg.host}/nothing/here:1`]);
      assert.equal(r.code, 4);
      assertOneLineError(r.stderr, /not found|unknown/);
    });
    await t.step("a platform the index does not have, destination untouched", async () => {
      const fx = await pushOciIndex(reg, "plat/app:1");
      const r = await dtool([
        "copy",
        "--platform",
        "linux/s390x",
        `docker://${fx.ref}`,
        `docker://${dst.host}/plat/app:1`,
      ]);
      assert.equal(r.code, 4);
      assertOneLineError(r.stderr, /no image for platform linux\/s390x \(available: linux\/amd64/);
      await assert.rejects(skopeoInspectRaw(`${dst.host}/plat/app:1`));
    });
    await t.step(
      "a named platform is that platform: no fallback to what it could run",
      async () => {
        const fx = await pushOciIndex(reg, "strict/app:1", ["linux/386", "linux/arm/v6"]);
        for (const wanted of ["linux/amd64", "linux/arm/v7", "linux/arm64"]) {
          const r = await dtool([
            "copy",
            "--platform",
            wanted,
            `docker://${fx.ref}`,
            `docker://${dst.host}/strict/app:1`,
          ]);
          assert.equal(r.code, 4, `${wanted}: ${r.stderr}`);
          assertOneLineError(r.stderr, new RegExp(`no image for platform ${wanted}`));
        }
        await assert.rejects(skopeoInspectRaw(`${dst.host}/strict/app:1`));
        // The exact platform, normalised, is found.
        await dtoolOk([
          "copy",
          "-q",
          "--platform",
          "linux/arm/v6",
          `docker://${fx.ref}`,
          `docker://${dst.host}/strict/app:1`,
        ]);
        const arm = fx.children!.find((c) => c.platform === "linux/arm/v6")!;
        assert.equal(await sha256(await skopeoInspectRaw(`${dst.host}/strict/app:1`)), arm.digest);
      },
    );
    await t.step("an unreachable registry exits 1", async () => {
      const port = freePort(); // nothing listens there
      const r = await dtool(["inspect", `docker://127.0.0.1:${port}/x:1`]);
      assert.equal(r.code, 1);
      assertOneLineError(r.stderr, new RegExp(`cannot reach registry 127\\.0\\.0\\.1:${port}`));
    });
  } finally {
    await reg.stop();
    await dst.stop();
  }
});

Deno.test("an htpasswd registry: good credentials work, wrong ones exit 3, none leak", async (t) => {
  const password = "pa55-Word-ZQX";
  const reg = await startRegistry({ htpasswd: { username: "alice", password } });
  const open = await startRegistry();
  const home = await Deno.makeTempDir();
  try {
    const fx = await pushOciImage(open, "auth/app:1");
    await t.step("--dest-creds pushes, --creds reads", async () => {
      const r = await dtoolOk([
        "copy",
        "--debug",
        "--dest-creds",
        `alice:${password}`,
        `docker://${fx.ref}`,
        `docker://${reg.host}/auth/app:1`,
      ]);
      assert.doesNotMatch(r.stderr, new RegExp(password));
      assert.doesNotMatch(r.stderr, new RegExp(btoa(`alice:${password}`)));
      const raw = await skopeoInspectRaw(`${reg.host}/auth/app:1`, { creds: `alice:${password}` });
      assert.deepEqual(raw, fx.raw);
      const i = await dtoolOk([
        "inspect",
        "--creds",
        `alice:${password}`,
        `docker://${reg.host}/auth/app:1`,
      ]);
      assert.equal(JSON.parse(i.stdout).Digest, fx.digest);
    });
    await t.step("credentials from DOCKER_CONFIG's auths", async () => {
      await Deno.writeTextFile(
        `${home}/config.json`,
        JSON.stringify({ auths: { [reg.host]: { auth: btoa(`alice:${password}`) } } }),
      );
      const r = await dtoolOk(["inspect", "--raw", `docker://${reg.host}/auth/app:1`], {
        env: { DOCKER_CONFIG: home },
      });
      assert.deepEqual(r.stdoutBytes, fx.raw);
    });
    await t.step("wrong password exits 3 without echoing it", async () => {
      const r = await dtool([
        "inspect",
        "--creds",
        "alice:not-the-password",
        `docker://${reg.host}/auth/app:1`,
      ]);
      assert.equal(r.code, 3, r.stderr);
      assertOneLineError(r.stderr, /^dtool: inspect .*: .*(denied|authentication)/i);
      assert.doesNotMatch(r.stderr, /not-the-password/);
    });
    await t.step("no credentials at all exits 3", async () => {
      const r = await dtool(["copy", `docker://${fx.ref}`, `docker://${reg.host}/auth/other:1`], {
        env: { DOCKER_CONFIG: `${home}/none` },
      });
      assert.equal(r.code, 3, r.stderr);
      await assert.rejects(
        skopeoInspectRaw(`${reg.host}/auth/other:1`, { creds: `alice:${password}` }),
      );
    });
    await t.step("a malformed config file is a one-line error naming it", async () => {
      await Deno.mkdir(`${home}/bad`);
      await Deno.writeTextFile(`${home}/bad/config.json`, "{ not json");
      const r = await dtool(["inspect", `docker://${reg.host}/auth/app:1`], {
        env: { DOCKER_CONFIG: `${home}/bad` },
      });
      assert.equal(r.code, 2);
      assertOneLineError(r.stderr, /bad\/config\.json is not valid JSON/);
    });
  } finally {
    await Deno.remove(home, { recursive: true });
    await reg.stop();
    await open.stop();
  }
});
