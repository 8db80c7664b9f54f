/**
 * `deno task compile`: what can be known offline is tested offline (targets, names, the flags
 * baked into the executables, the one-line failure); the real build runs only where Deno's
 * release downloads can be reached, and says why when it is skipped. Nothing is written into
 * the checkout: every build goes to a temp dir.
 */
import assert from "node:assert/strict";
import {
  binaryName,
  compileArgs,
  explainFailure,
  parseCompileArgs,
  PERMISSIONS,
  TARGETS,
  V8_FLAGS,
} from "../../scripts/compile.ts";

const SCRIPT = new URL("../../scripts/compile.ts", import.meta.url).pathname;
const HOST_TARGET = "x86_64-unknown-linux-gnu";

/** Runs the compile script into a new temp dir, with extra environment. */
async function compile(env: Record<string, string>, ...args: string[]) {
  const outDir = await Deno.makeTempDir({ prefix: "dtool_compile_" });
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, "--out-dir", outDir, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { out, outDir, stderr: new TextDecoder().decode(out.stderr).trim() };
}

/** Whether Deno's release downloads answer within a few seconds, and if not, why. */
async function downloadsReachable(): Promise<string | undefined> {
  try {
    const res = await fetch("https://dl.deno.land/", {
      method: "HEAD",
      signal: AbortSignal.timeout(5000),
    });
    await res.body?.cancel();
    return undefined;
  } catch (e) {
    return (e as Error).message.split("\n")[0];
  }
}

Deno.test("compile covers the five release targets, one dtool-<target> binary each", () => {
  assert.deepEqual([...TARGETS], [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
  ]);
  assert.deepEqual(TARGETS.map(binaryName), [
    "dtool-x86_64-unknown-linux-gnu",
    "dtool-aarch64-unknown-linux-gnu",
    "dtool-x86_64-apple-darwin",
    "dtool-aarch64-apple-darwin",
    "dtool-x86_64-pc-windows-msvc.exe",
  ]);
});

Deno.test("each executable has the V8 flags and permissions baked in, and goes to the out dir", () => {
  for (const t of TARGETS) {
    const args = compileArgs(t, "/tmp/somewhere/");
    assert.equal(args[0], "compile");
    assert.equal(args[args.indexOf("--target") + 1], t);
    assert.equal(args[args.indexOf("--output") + 1], `/tmp/somewhere/${binaryName(t)}`);
    // Flags after the script would be the program's arguments, not compile's.
    assert.equal(args.at(-1), "cli.ts");
    for (const flag of [...PERMISSIONS, ...V8_FLAGS]) assert.ok(args.includes(flag), flag);
  }
  assert.deepEqual(V8_FLAGS, ["--v8-flags=--max-semi-space-size=1"]);
  assert.deepEqual(PERMISSIONS, [
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-run",
    "--allow-sys",
  ]);
  assert.equal(compileArgs(HOST_TARGET).at(-2), `dist/${binaryName(HOST_TARGET)}`);
});

Deno.test("the compile command line: --out-dir, targets, and unknown targets refused", () => {
  assert.deepEqual(parseCompileArgs([]), { outDir: "dist", targets: [...TARGETS] });
  assert.deepEqual(parseCompileArgs(["--out-dir=/x", HOST_TARGET]), {
    outDir: "/x",
    targets: [HOST_TARGET],
  });
  assert.throws(() => parseCompileArgs(["--out-dir"]), /--out-dir needs a directory/);
  assert.throws(() => parseCompileArgs(["x86_64-linux"]), /^Error: compile: unknown target x86/);
});

Deno.test("a failed runtime download is explained in one line naming the URL", () => {
  const stderr = [
    "Compile cli.ts to dist/dtool-x86_64-unknown-linux-gnu",
    "Download https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip",
    "error: Writing deno compile executable to temporary file 'x'",
    "Caused by:",
    "    0: Setting up base binary.",
    "    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip): dns error",
  ].join("\n");
  const line = explainFailure(HOST_TARGET, stderr);
  assert.doesNotMatch(line, /\n/);
  assert.match(line, /cannot download the Deno runtime base/);
  assert.match(line, /denort-x86_64-unknown-linux-gnu\.zip/);
  // Another failure is not mistaken for the download.
  const other = explainFailure(HOST_TARGET, 'error: Module not found "file:///x/cli.ts".\n');
  assert.equal(
    other,
    `compile ${HOST_TARGET}: deno compile failed: error: Module not found "file:///x/cli.ts".`,
  );
});

Deno.test("with the runtime download cut off, compile fails in one line and writes no binary", async () => {
  // A dead proxy stands in for a machine without internet access, on any machine. Where the
  // runtime base is already in Deno's cache no download happens: then the build must work.
  const { out, outDir, stderr } = await compile(
    { HTTPS_PROXY: "http://127.0.0.1:9", https_proxy: "http://127.0.0.1:9" },
    HOST_TARGET,
  );
  try {
    if (out.success) {
      const bin = `${outDir}/${binaryName(HOST_TARGET)}`;
      const v = await new Deno.Command(bin, { args: ["--version"], stdout: "piped" }).output();
      assert.match(new TextDecoder().decode(v.stdout), /^dtool \d/);
      return;
    }
    assert.equal(out.code, 1);
    assert.equal(stderr.split("\n").length, 1, stderr);
    assert.match(
      stderr,
      new RegExp(`^compile ${HOST_TARGET}: cannot download the Deno runtime base`),
    );
    assert.deepEqual(
      [...Deno.readDirSync(outDir)].map((e) => e.name).filter((n) => !n.includes(".tmp")),
      [],
    );
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

const unreachable = await downloadsReachable();
if (unreachable) {
  console.error(
    `compile_test: skipping the real build: https://dl.deno.land cannot be reached (${unreachable})`,
  );
}

Deno.test({
  name: "deno task compile builds a working executable (needs https://dl.deno.land)",
  ignore: unreachable !== undefined,
  async fn() {
    const { out, outDir, stderr } = await compile({}, HOST_TARGET);
    try {
      assert.ok(out.success, stderr);
      const bin = `${outDir}/${binaryName(HOST_TARGET)}`;
      const v = await new Deno.Command(bin, { args: ["--version"], stdout: "piped" }).output();
      assert.ok(v.success);
      assert.match(new TextDecoder().decode(v.stdout), /^dtool \d+\.\d+\.\d+ \(deno /);
    } finally {
      await Deno.remove(outDir, { recursive: true });
    }
  },
});
