import assert from "node:assert/strict";
import { program } from "../../lib/cli/program.ts";
import { QUICK_COMMANDS, quickParse } from "../../lib/cli/quick_parse.ts";

/** What commander makes of a command line: the subcommand's arguments and flags, or "error". */
async function commanderParse(argv: string[]) {
  const root = program(() => {});
  root.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  for (const c of root.commands) {
    c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  }
  try {
    await root.parseAsync(argv, { from: "user" });
  } catch {
    return "error";
  }
  const sub = root.commands.find((c) => c.name() === argv[0])!;
  return { args: sub.args, flags: { ...sub.opts() } };
}

const LINES: string[][] = [
  ["inspect", "docker://localhost:5000/app:1"],
  ["inspect", "--raw", "docker://localhost:5000/app:1"],
  ["inspect", "docker://localhost:5000/app:1", "--config", "--debug"],
  ["inspect", "--tls-verify=false", "docker://x/app:1"],
  ["inspect", "--tls-verify", "false", "docker://x/app:1"],
  ["inspect", "--tls-verify", "docker://x/app:1"],
  ["inspect", "--tls-verify", "--raw", "docker://x/app:1"],
  ["inspect", "docker://x/app:1", "--tls-verify"],
  ["inspect", "--tls-verify=maybe", "docker://x/app:1"],
  ["inspect", "--no-tags", "--platform", "linux/arm64", "docker://x/app:1"],
  ["inspect", "--platform=linux/arm64", "docker://x/app:1"],
  ["inspect", "--creds", "--weird:pass", "docker://x/app:1"],
  ["inspect", "--creds=u:p", "--authfile", "/a.json", "--cert-dir", "/c", "docker://x/app:1"],
  ["inspect", "--creds"],
  ["inspect"],
  ["inspect", "a", "b"],
  ["inspect", "--raw=1", "docker://x/app:1"],
  ["inspect", "--bogus", "docker://x/app:1"],
  ["inspect", "-h"],
  ["inspect", "--help"],
  ["inspect", "--", "--raw"],
  ["inspect", "--raw", "--raw", "docker://x/app:1"],
  ["list-tags", "docker://x/app"],
  ["list-tags", "--debug", "--tls-verify=0", "docker://x/app"],
  ["list-tags", "--raw", "docker://x/app"],
  ["list-tags", "-"],
  ["sync", "--src", "docker", "--dest", "docker", "h/a", "h2"],
  ["sync", "-s", "yaml", "-d", "oci", "--scoped", "--append-suffix", "-m", "f.yaml", "/l"],
  [
    "sync",
    "--src=oci",
    "--dest=dir",
    "--all",
    "--dry-run",
    "--keep-going",
    "--jobs",
    "3",
    "a",
    "b",
  ],
  [
    "sync",
    "--src",
    "docker",
    "--dest",
    "docker",
    "--platform",
    "linux/amd64",
    "--shard",
    "1/3",
    "a",
    "b",
  ],
  [
    "sync",
    "--src",
    "docker",
    "--dest",
    "docker",
    "--src-tls-verify=false",
    "--dest-tls-verify",
    "a",
    "b",
  ],
  [
    "sync",
    "--src",
    "docker",
    "--dest",
    "docker",
    "--referrers",
    "--referrers-artifact-type",
    "t",
    "--digest-tags",
    "a",
    "b",
  ],
  [
    "sync",
    "--src",
    "docker",
    "--dest",
    "docker",
    "--src-authfile",
    "/a",
    "--dest-creds",
    "u:p",
    "-q",
    "a",
    "b",
  ],
  ["sync", "--src", "docker", "a", "b"],
  ["sync", "--src", "ftp", "--dest", "docker", "a", "b"],
  [
    "sync",
    "--src",
    "docker",
    "--dest",
    "docker",
    "--progress",
    "json",
    "--retry-delay",
    "2s",
    "a",
    "b",
  ],
  ["digest", "docker://x/app:1"],
  ["digest", "--platform", "linux/arm64", "--tls-verify=false", "docker://x/app:1"],
  ["digest", "--debug", "--creds", "u:p", "x/app:1"],
  ["digest", "--platform"],
  ["copy", "docker://a/b:1", "docker://c/d:1"],
  ["copy", "--referrers", "--referrers-artifact-type", "t", "--digest-tags", "a", "b"],
  ["copy", "--additional-tag", "x:1", "--additional-tag=y:2", "a", "docker-archive:/t.tar:z:3"],
  ["copy", "-q", "-a", "docker://a/b:1", "docker://c/d:1"],
  ["copy", "-aq", "docker://a/b:1", "docker://c/d:1"],
  ["copy", "--quiet", "--all", "--debug", "docker://a/b:1", "docker://c/d:1"],
  ["copy", "--platform", "linux/amd64", "--platform=linux/arm64", "a", "b"],
  ["copy", "--src-tls-verify=false", "--dest-tls-verify", "a", "b"],
  ["copy", "--dest-tls-verify", "no", "a", "b"],
  ["copy", "--jobs", "4", "--retry-times=0", "--retry-delay", "500ms", "a", "b"],
  ["copy", "--jobs", "0", "a", "b"],
  ["copy", "--upload-chunk-size", "5MiB", "--digestfile", "/tmp/d", "a", "b"],
  ["copy", "--progress", "json", "a", "b"],
  ["copy", "--progress=bars", "a", "b"],
  ["copy", "--src-creds", "u:p", "--dest-creds=v:q", "--authfile", "/a", "a", "b"],
  ["copy", "--src-cert-dir", "/s", "--dest-cert-dir=/d", "a", "b"],
  ["copy", "a"],
  ["copy", "-x", "a", "b"],
];

Deno.test("the quick parser agrees with commander on every command line it accepts", async () => {
  for (const argv of LINES) {
    const quick = quickParse(argv);
    const full = await commanderParse(argv);
    if (quick === undefined) continue; // commander handles it, help and errors included
    assert.notEqual(full, "error", `quick parser accepted what commander refuses: ${argv}`);
    assert.deepEqual({ args: quick.args, flags: quick.flags }, full, argv.join(" "));
  }
});

Deno.test("the quick parser leaves help, mistakes and other commands to commander", () => {
  for (
    const argv of [
      ["inspect", "--help"],
      ["inspect", "-h"],
      ["inspect"],
      ["inspect", "a", "b"],
      ["inspect", "--bogus", "x"],
      ["inspect", "--tls-verify=maybe", "x"],
      ["list-tags", "--creds"],
      ["copy", "a"],
      ["copy", "-aq", "a", "b"],
      ["copy", "--progress=bars", "a", "b"],
      ["copy", "--jobs", "0", "a", "b"],
      ["login", "x"],
      ["toString", "x"],
      [],
    ]
  ) {
    assert.equal(quickParse(argv), undefined, argv.join(" "));
  }
});

Deno.test("every flag the quick parser knows is commander's, short forms included", () => {
  // Flags it does not know (added to cli.ts later) send the line to commander: slower, still right.
  // Defaults it would miss are caught above, where plain lines are compared with commander's.
  const root = program(() => {});
  for (const [name, spec] of Object.entries(QUICK_COMMANDS)) {
    const sub = root.commands.find((c) => c.name() === name)!;
    const longs = new Set(sub.options.map((o) => o.long));
    for (const flag of Object.keys(spec.flags)) assert.ok(longs.has(flag), `${name} ${flag}`);
    for (const [short, long] of Object.entries(spec.short ?? {})) {
      assert.equal(sub.options.find((o) => o.short === short)?.long, long, `${name} ${short}`);
    }
  }
});

Deno.test("a flag the quick parser does not know goes to commander", () => {
  assert.equal(quickParse(["copy", "--no-such-flag", "a", "b"]), undefined);
  assert.equal(quickParse(["inspect", "--format", "x", "a"]), undefined);
});
