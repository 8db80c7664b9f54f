/**
 * `deno task bundle`: dist/dtool.js is one file that runs anywhere Deno runs. The bundle is
 * built into a temp dir (never the checkout), copied to another temp dir, and run there with a
 * fresh DENO_DIR and every download cut off: nothing but the file itself may be needed.
 */
import assert from "node:assert/strict";
import { buildBundle, eagerNodeImports } from "../../scripts/bundle.ts";
import { pushOciImage } from "../helpers/images.ts";
import { startRegistry } from "../helpers/registry.ts";
import { VERSION } from "../../lib/version.ts";

const DEAD_PROXY = "http://127.0.0.1:9";

Deno.test("the bundle runs alone, offline, from a folder outside the checkout", async (t) => {
  const buildDir = await Deno.makeTempDir({ prefix: "dtool_bundle_build_" });
  const away = await Deno.makeTempDir({ prefix: "dtool_bundle_away_" });
  const reg = await startRegistry();
  try {
    const built = await buildBundle(buildDir);
    const code = await Deno.readTextFile(built);
    assert.deepEqual(eagerNodeImports(code), [], "no node: module loaded at start-up");
    assert.doesNotMatch(code, /from "npm:|import\("npm:/, "npm code is inside the file");
    await Deno.copyFile(built, `${away}/dtool.js`);

    const run = async (...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "dtool.js", ...args],
        cwd: away,
        env: {
          DENO_DIR: `${away}/deno_dir`,
          HTTPS_PROXY: DEAD_PROXY,
          NPM_CONFIG_REGISTRY: `${DEAD_PROXY}/`,
          NO_PROXY: "127.0.0.1,localhost",
          NO_COLOR: "1",
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = (b: Uint8Array) => new TextDecoder().decode(b);
      return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
    };

    await t.step("--help lists the commands", async () => {
      const r = await run("--help");
      assert.equal(r.code, 0, r.stderr);
      for (const c of ["copy", "inspect", "list-tags", "login"]) {
        assert.match(r.stdout, new RegExp(`^\\s+${c} `, "m"));
      }
    });

    await t.step("--version names dtool, Deno and V8", async () => {
      const r = await run("--version");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout.trim(),
        `dtool ${VERSION} (deno ${Deno.version.deno}, v8 ${Deno.version.v8})`,
      );
    });

    await t.step("inspect reads a real registry", async () => {
      const fx = await pushOciImage(reg, "bundle/app:1", { layers: 2 });
      const r = await run("inspect", `docker://${fx.ref}`);
      assert.equal(r.code, 0, r.stderr);
      const info = JSON.parse(r.stdout);
      assert.equal(info.Digest, fx.digest);
      assert.equal(info.Layers.length, 2);
    });

    await t.step("archives, layouts and a referrers listing work from the bundle", async () => {
      // node-tar and Node built-ins are loaded on first use inside the bundle: exercise them.
      const fx = await pushOciImage(reg, "bundle/arch:1", { layers: 2 });
      for (const dest of ["oci-archive:a.tar:1", "docker-archive:d.tar:app:1", "oci:layout:1"]) {
        const r = await run("copy", "-q", `docker://${fx.ref}`, dest);
        assert.equal(r.code, 0, `${dest}: ${r.stderr}`);
      }
      const back = await run(
        "copy",
        "-q",
        "oci-archive:a.tar:1",
        `docker://${reg.host}/bundle/back:1`,
      );
      assert.equal(back.code, 0, back.stderr);
      const raw = await run("inspect", "--raw", `docker://${reg.host}/bundle/back:1`);
      assert.equal(raw.stdout, new TextDecoder().decode(fx.raw));
      const refs = await run("referrers", "oci:layout:1");
      assert.equal(refs.code, 0, refs.stderr);
      assert.deepEqual(JSON.parse(refs.stdout).manifests, []);
    });

    await t.step("a mistake is reported by commander, loaded lazily from the bundle", async () => {
      const r = await run("inspect", "--bogus", "docker://x/y:1");
      assert.equal(r.code, 2);
      assert.equal(r.stderr.trim(), "dtool: unknown option '--bogus'");
    });
  } finally {
    await reg.stop();
    await Deno.remove(buildDir, { recursive: true });
    await Deno.remove(away, { recursive: true });
  }
});
