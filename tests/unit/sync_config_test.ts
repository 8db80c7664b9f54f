import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { parseSyncConfig } from "../../lib/sync/config.ts";
import { selectTags, tagInRange } from "../../lib/sync/select.ts";

const digest = "sha256:" + "b".repeat(64);

Deno.test("yaml: every key skopeo knows, in file order", () => {
  const [r] = parseSyncConfig(
    `registry.example:5000:
  images:
    a/b: ["1", "${digest}"]
    all: []
    nulled:
  images-by-tag-regex:
    c: ^v1\\.
  images-by-semver:
    d: ">=1.2 <2"
  credentials:
    username: u
    password: p
  tls-verify: false
  cert-dir: /certs
`,
    "s.yaml",
  );
  assert.equal(r.registry, "registry.example:5000");
  assert.deepEqual(r.repositories.map((x) => x.repository), ["a/b", "all", "nulled", "c", "d"]);
  assert.deepEqual(r.repositories[0].refs, ["1", digest]);
  assert.deepEqual(r.repositories[1].rule, { kind: "all" });
  assert.deepEqual(r.repositories[2].rule, { kind: "all" });
  assert.equal(r.repositories[3].rule?.kind, "regex");
  assert.deepEqual(r.repositories[4].rule, { kind: "semver", range: ">=1.2 <2" });
  assert.deepEqual(r.credentials, { username: "u", password: "p" });
  assert.equal(r.tlsVerify, false);
  assert.equal(r.certDir, "/certs");
  assert.deepEqual(parseSyncConfig("", "empty.yaml"), []);
});

Deno.test("yaml: mistakes name the file, the registry and the key", () => {
  const cases: [string, RegExp][] = [
    ["r.io:\n  image:\n    a: []\n", /^s\.yaml: registry r\.io: image: unknown key/],
    [
      'r.io:\n  images-by-tag-regex:\n    a: "("\n',
      /^s\.yaml: registry r\.io: images-by-tag-regex: a: bad regex "\("/,
    ],
    [
      'r.io:\n  images-by-semver:\n    a: "not a range"\n',
      /^s\.yaml: registry r\.io: images-by-semver: a: bad semver range/,
    ],
    ["r.io:\n  images:\n    a: latest\n", /registry r\.io: images: a: expected a list/],
    [
      'r.io:\n  images:\n    a: ["bad tag!"]\n',
      /registry r\.io: images: a: "bad tag!" is not a tag or digest/,
    ],
    ["r.io:\n  images:\n    A/b: []\n", /registry r\.io: images: A\/b: not a repository name/],
    ["r.io:\n  images:\n    a:b: []\n", /registry r\.io: images: a:b: not a repository name/],
    ["r.io:\n  tls-verify: maybe\n", /registry r\.io: tls-verify: expected true or false/],
    [
      "r.io:\n  credentials:\n    username: u\n    token: t\n",
      /registry r\.io: credentials: token: unknown key/,
    ],
    ["r.io: [1]\n", /registry r\.io: \(value\): expected a mapping/],
    ["- r.io\n", /^s\.yaml: expected a mapping of registries/],
    ["r.io:\n  images: {a: [}\n", /^s\.yaml: not valid YAML/],
    ["r.io:\n  images:\n    a: []\n    a: []\n", /^s\.yaml: not valid YAML/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseSyncConfig(text, "s.yaml"), (e: unknown) => {
      assert.ok(e instanceof UsageError, text);
      assert.match((e as Error).message, re, text);
      assert.doesNotMatch((e as Error).message, /\n/);
      return true;
    });
  }
});

Deno.test("select: regex is unanchored as skopeo's; semver takes versions in range", () => {
  const tags = ["1.0.0", "v1.2.3", "1.2.4-rc.1", "2.0.0", "latest", "x1.0"];
  assert.deepEqual(selectTags(tags, { kind: "regex", pattern: /1\./ }), [
    "1.0.0",
    "v1.2.3",
    "1.2.4-rc.1",
    "x1.0",
  ]);
  assert.deepEqual(selectTags(tags, { kind: "semver", range: ">=1.1 <2" }), ["v1.2.3"]);
  assert.deepEqual(selectTags(tags, { kind: "all" }), tags);
  assert.ok(tagInRange("1.2.4-rc.1", ">=1.2.4-rc.0 <2"));
  assert.ok(!tagInRange("latest", "*"));
});
