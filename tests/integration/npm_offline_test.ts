/**
 * A short command must not talk to the npm registry once a first run has filled the Deno cache:
 * on this project's machines a cache once got into a state where every command that imported
 * anything lazily fetched the metadata of `@commander-js/extra-typings` (a package with a peer
 * dependency, since dropped) again: ~25 ms before the first registry request, and a request to
 * npm from an air-gapped machine. That state was not reproduced from a fresh cache; this test
 * holds the property itself.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { pushOciImage } from "../helpers/images.ts";
import { startRegistry } from "../helpers/registry.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** A proxy that is not there: every request to npm (HTTPS) fails at once. */
const DEAD_PROXY = "http://127.0.0.1:9";

/** `deno run -A cli.ts ARGS` from the checkout with its own Deno cache, never `--quiet`. */
async function runCli(denoDir: string, args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", ...args],
    cwd: ROOT,
    env: { DENO_DIR: denoDir, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name: "after a first run fills the cache, commands never go to npm",
  // The first run downloads the lockfile's npm packages into a fresh cache, as on CI.
  async fn() {
    const denoDir = await Deno.makeTempDir({ prefix: "dtool_npm_offline_" });
    const reg = await startRegistry();
    try {
      const fx = await pushOciImage(reg, "npm/app:1");
      const first = await runCli(denoDir, ["inspect", `docker://${fx.ref}`], {});
      assert.equal(first.code, 0, first.stderr);
      const offline = { HTTPS_PROXY: DEAD_PROXY, NO_PROXY: "127.0.0.1,localhost" };
      const commands = [
        ["inspect", `docker://${fx.ref}`],
        ["list-tags", `docker://${reg.host}/npm/app`],
        ["digest", `docker://${fx.ref}`],
      ];
      for (const args of commands) {
        const r = await runCli(denoDir, args, offline);
        assert.equal(r.code, 0, `dtool ${args.join(" ")}:\n${r.stderr}`);
        assert.doesNotMatch(
          r.stderr,
          /Download/,
          `dtool ${args.join(" ")} went to npm:\n${r.stderr}`,
        );
      }
    } finally {
      await reg.stop();
      await Deno.remove(denoDir, { recursive: true }).catch(() => {});
    }
  },
});
