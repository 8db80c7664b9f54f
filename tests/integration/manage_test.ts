/**
 * `dtool tag`, `delete`, `digest` and `catalog` against Debian's
 * docker-registry, against `dtool serve`, and on OCI layouts, with skopeo
 * as the judge of what the registry holds afterwards.
 */
import assert from "node:assert/strict";
import { dtool, dtoolOk } from "../helpers/dtool.ts";
import { pushOciImage, pushOciIndex, sha256Digest } from "../helpers/images.ts";
import { startRegistry, type TestRegistry } from "../helpers/registry.ts";
import { startServe } from "../helpers/serve.ts";
import { skopeo, skopeoInspectRaw, skopeoListTags } from "../helpers/skopeo.ts";

const TLS = ["--tls-verify=false"];

async function exists(ref: string): Promise<boolean> {
  try {
    await skopeoInspectRaw(ref);
    return true;
  } catch {
    return false;
  }
}

/** The same checks on any registry; `tagDelete` says whether it deletes tags alone. */
async function manageChecks(reg: TestRegistry, t: Deno.TestContext, tagDelete: boolean) {
  const fx = await pushOciIndex(reg, "team/app:1", ["linux/amd64", "linux/arm64/v8"]);
  await pushOciImage(reg, "other/thing:x");

  await t.step("digest prints the digest alone; --platform picks from the index", async () => {
    const r = await dtoolOk(["digest", ...TLS, `docker://${fx.ref}`]);
    assert.equal(r.stdout, `${fx.digest}\n`);
    const arm = await dtoolOk(["digest", ...TLS, "--platform", "linux/arm64/v8", fx.ref]);
    assert.equal(arm.stdout.trim(), fx.children![1].digest);
    const missing = await dtool(["digest", ...TLS, `${reg.host}/team/app:nope`]);
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /^dtool: digest \S+: [^\n]*(not found|unknown)[^\n]*\n?$/);
  });

  await t.step("tag adds tags with the same digest", async () => {
    await dtoolOk(["tag", ...TLS, `docker://${fx.ref}`, "stable", "2"]);
    for (const tag of ["stable", "2"]) {
      assert.equal(sha256Digest(await skopeoInspectRaw(`${reg.host}/team/app:${tag}`)), fx.digest);
    }
    assert.deepEqual((await skopeoListTags(`${reg.host}/team/app`)).sort(), ["1", "2", "stable"]);
  });

  await t.step("catalog lists every repository", async () => {
    const r = await dtoolOk(["catalog", ...TLS, reg.host]);
    const repos = JSON.parse(r.stdout).Repositories as string[];
    assert.deepEqual(repos.filter((x) => ["team/app", "other/thing"].includes(x)).sort(), [
      "other/thing",
      "team/app",
    ]);
  });

  await t.step("delete of a tag", async () => {
    await dtoolOk(["delete", ...TLS, `${reg.host}/team/app:2`]);
    assert.equal(await exists(`${reg.host}/team/app:2`), false);
    // A registry without tag deletes loses the manifest (every tag of it) instead.
    assert.equal(await exists(`${reg.host}/team/app:stable`), tagDelete);
  });

  await t.step("delete by digest", async () => {
    if (!tagDelete) {
      await pushOciIndex(reg, "team/app:1", ["linux/amd64"]);
    }
    const digest = (await dtoolOk(["digest", ...TLS, `${reg.host}/team/app:1`])).stdout.trim();
    await dtoolOk(["delete", ...TLS, `${reg.host}/team/app@${digest}`]);
    assert.equal(await exists(`${reg.host}/team/app@${digest}`), false);
    assert.equal(await exists(`${reg.host}/team/app:1`), false);
    assert.equal(await exists(`${reg.host}/other/thing:x`), true);
  });
}

Deno.test("manage: tag, digest, catalog and delete against docker-registry", async (t) => {
  const reg = await startRegistry();
  try {
    await manageChecks(reg, t, false);
  } finally {
    await reg.stop();
  }
});

Deno.test("manage: tag, digest, catalog and delete against dtool serve", async (t) => {
  const reg = await startServe();
  try {
    await manageChecks(reg, t, true);
    await t.step("digest sends one HEAD and no GET of a manifest", async () => {
      await pushOciImage(reg, "head/only:1");
      reg.log.length = 0;
      await dtoolOk(["digest", ...TLS, `${reg.host}/head/only:1`]);
      const manifestRequests = reg.log.filter((l) => l.includes("/manifests/"));
      assert.deepEqual(manifestRequests.map((l) => l.split(" ")[0]), ["HEAD"]);
    });
  } finally {
    await reg.stop();
  }
});

Deno.test("manage: delete on a registry with deletes turned off says so", async () => {
  const reg = await startRegistry({ deletes: false });
  try {
    const fx = await pushOciImage(reg, "app:1");
    const r = await dtool(["delete", ...TLS, fx.ref]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^dtool: delete .*: registry .* has deletes turned off \(HTTP 405/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.equal(await exists(fx.ref), true);
  } finally {
    await reg.stop();
  }

  const ro = await startServe({ readOnly: true });
  try {
    const r = await dtool(["delete", ...TLS, `${ro.host}/app@sha256:${"a".repeat(64)}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /deletes turned off/);
  } finally {
    await ro.stop();
  }
});

Deno.test("manage: tag, digest, delete and catalog on an OCI layout", async () => {
  const reg = await startRegistry();
  const dir = await Deno.makeTempDir();
  try {
    const fx = await pushOciIndex(reg, "app:1", ["linux/amd64", "linux/arm64/v8"]);
    await skopeo([
      "copy",
      "--quiet",
      "--all",
      "--preserve-digests",
      "--src-tls-verify=false",
      `docker://${fx.ref}`,
      `oci:${dir}:team/app:1`,
    ]);
    const layout = `oci:${dir}:team/app:1`;
    assert.equal((await dtoolOk(["digest", layout])).stdout.trim(), fx.digest);
    assert.equal(
      (await dtoolOk(["digest", "--platform", "linux/amd64", layout])).stdout.trim(),
      fx.children![0].digest,
    );
    await dtoolOk(["tag", layout, "2"]);
    assert.equal((await dtoolOk(["digest", `oci:${dir}:team/app:2`])).stdout.trim(), fx.digest);
    assert.deepEqual(JSON.parse((await dtoolOk(["catalog", `oci:${dir}`])).stdout), {
      Repositories: ["team/app"],
    });
    await dtoolOk(["delete", layout]);
    const index = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
    const names = index.manifests.map((d: { annotations?: Record<string, string> }) =>
      d.annotations?.["org.opencontainers.image.ref.name"]
    );
    assert.deepEqual(names, ["team/app:2"]);
    // skopeo still reads what is left.
    const raw = await skopeo(["inspect", "--raw", `oci:${dir}:team/app:2`]);
    assert.equal(sha256Digest(new TextEncoder().encode(raw)), fx.digest);
  } finally {
    await reg.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
