import assert from "node:assert/strict";
import { compileArgs, explainFailure, TARGETS } from "../../scripts/compile.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("compile covers the five release targets, one dtool-<target> binary each", () => {
  assert.deepEqual([...TARGETS], [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
  ]);
  for (const t of TARGETS) {
    const args = compileArgs(t);
    assert.equal(args[0], "compile");
    assert.equal(args[args.indexOf("--target") + 1], t);
    const out = args[args.indexOf("--output") + 1];
    assert.equal(out, `dist/dtool-${t}${t.includes("windows") ? ".exe" : ""}`);
    assert.equal(args.at(-1), "cli.ts");
    assert.ok(args.includes("--allow-net"));
  }
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
  const line = explainFailure("x86_64-unknown-linux-gnu", stderr);
  assert.doesNotMatch(line, /\n/);
  assert.match(line, /cannot download the Deno runtime base/);
  assert.match(line, /denort-x86_64-unknown-linux-gnu\.zip/);
});

Deno.test("deno task compile either builds a working binary or says in one line why not", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "compile", "x86_64-unknown-linux-gnu"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (out.success) {
    // A machine that can download the runtime base: the binary must run.
    const bin = `${ROOT}dist/dtool-x86_64-unknown-linux-gnu`;
    const v = await new Deno.Command(bin, { args: ["--version"], stdout: "piped" }).output();
    assert.ok(v.success);
    return;
  }
  assert.equal(out.code, 1);
  const lines = stderr.split("\n");
  assert.equal(lines.length, 1, stderr);
  assert.match(
    lines[0],
    /^compile x86_64-unknown-linux-gnu: cannot download the Deno runtime base/,
  );
});
