/**
 * `deno run http://…/cli.ts` must work with no checkout and no deno.json:
 * serve this repository over loopback HTTP and run the CLI from there.
 */
import assert from "node:assert/strict";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { VERSION } from "../../lib/version.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".ts": "application/typescript",
  ".js": "application/javascript",
  ".json": "application/json",
  ".md": "text/markdown",
};

/** Serves files below ROOT read-only, and nothing outside it. */
async function handle(req: Request): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    return new Response("method not allowed", { status: 405 });
  }
  const rel = normalize(decodeURIComponent(new URL(req.url).pathname)).replace(/^[/\\]+/, "");
  const path = join(ROOT, rel);
  if (
    !path.startsWith(ROOT.endsWith(sep) ? ROOT : ROOT + sep) || rel.split(/[/\\]/).includes("..")
  ) {
    return new Response("forbidden", { status: 403 });
  }
  try {
    const body = await Deno.readFile(path);
    const type = CONTENT_TYPES[extname(path)] ?? "application/octet-stream";
    return new Response(req.method === "HEAD" ? null : body, { headers: { "content-type": type } });
  } catch {
    return new Response("not found", { status: 404 });
  }
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Serves the repository, runs `deno run --no-config -A <url>/cli.ts ...args` for each args. */
async function runRemote(argsList: string[][]): Promise<Run[]> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  // A fresh DENO_DIR: nothing cached from a previous run can hide a broken import.
  const denoDir = await Deno.makeTempDir({ prefix: "dtool_remote_run_" });
  try {
    const url = `http://127.0.0.1:${server.addr.port}/cli.ts`;
    const runs: Run[] = [];
    for (const args of argsList) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-config", "-A", url, ...args],
        env: { DENO_DIR: denoDir, NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      runs.push({
        code: out.code,
        stdout: new TextDecoder().decode(out.stdout),
        stderr: new TextDecoder().decode(out.stderr),
      });
    }
    return runs;
  } finally {
    await server.shutdown();
    await Deno.remove(denoDir, { recursive: true }).catch(() => {});
  }
}

Deno.test("the repository server serves cli.ts as TypeScript and refuses paths outside it", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const ok = await fetch(`${base}/cli.ts`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("content-type"), "application/typescript");
    assert.equal(await ok.text(), await Deno.readTextFile(join(ROOT, "cli.ts")));
    const missing = await fetch(`${base}/no/such/file.ts`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const escape = await fetch(`${base}/..%2F..%2Fetc%2Fpasswd`);
    assert.notEqual(escape.status, 200);
    await escape.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test({
  name: "deno run http://…/cli.ts --help and --version work with no checkout and no deno.json",
  // The child downloads commander from the npm registry into its fresh DENO_DIR.
  async fn() {
    const [help, version] = await runRemote([["--help"], ["--version"]]);

    assert.equal(help.code, 0, `--help failed:\n${help.stderr}`);
    assert.match(help.stdout, /^Usage: dtool /m);
    for (const command of ["copy", "inspect", "list-tags"]) {
      assert.match(
        help.stdout,
        new RegExp(`^\\s+${command} `, "m"),
        `no ${command} in:\n${help.stdout}`,
      );
    }
    assert.ok(!/error/i.test(help.stderr.replace(/Download .*/g, "")), help.stderr);

    assert.equal(version.code, 0, `--version failed:\n${version.stderr}`);
    assert.equal(
      version.stdout.trim(),
      `dtool ${VERSION} (deno ${Deno.version.deno}, v8 ${Deno.version.v8})`,
    );
  },
});
