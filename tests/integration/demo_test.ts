/**
 * `deno task demo`, the README's first command: it runs on its own and does
 * what it says (copy in with progress, one platform to a second repository,
 * inspect, tags), and leaves nothing behind.
 */
import assert from "node:assert/strict";

const DEMO = new URL("../../scripts/demo.ts", import.meta.url).pathname;

Deno.test("demo: runs offline against its own in-process dtool serve", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", DEMO],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.match(stderr, /Copied blob/, "copy progress");
  assert.match(stderr, /Mounted blob|Copied blob/);
  const inspect = JSON.parse(stdout.slice(stdout.indexOf("{"), stdout.indexOf("\n}\n") + 2));
  assert.equal(inspect.Architecture, "arm64");
  assert.equal(inspect.Layers.length, 1);
  assert.match(stdout, /"Tags": \[\s*"1",\s*"latest"\s*\]/);
  const storage = stdout.match(/serving (\S+) at/)![1];
  await assert.rejects(Deno.stat(storage), "the temporary storage is removed");
});
