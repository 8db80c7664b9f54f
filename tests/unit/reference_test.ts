import assert from "node:assert/strict";
import { ExitCode, InvalidReferenceError, UsageError } from "../../lib/errors.ts";
import {
  type DockerReference,
  type ImageReference,
  parseDockerReference,
  parseImageReference,
  repositoryOnly,
  SUPPORTED_TRANSPORTS,
  withDigest,
  withTag,
} from "../../lib/reference.ts";

const SHA256 = "sha256:" + "f".repeat(64);
const SHA512 = "sha512:" + "f".repeat(128);
const HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";

/** Asserts that parsing `input` throws an InvalidReferenceError whose message is `message`. */
function assertInvalid(input: string, message?: string | RegExp): void {
  assert.throws(
    () => parseDockerReference(input),
    (err: unknown) => {
      assert.ok(err instanceof InvalidReferenceError, `${input}: ${err}`);
      if (typeof message === "string") assert.equal(err.message, message, input);
      else if (message) assert.match(err.message, message, input);
      return true;
    },
    `expected ${JSON.stringify(input)} to be rejected`,
  );
}

function parts(ref: DockerReference) {
  return { domain: ref.domain, path: ref.path, tag: ref.tag, digest: ref.digest };
}

function assertUsage(input: string, message: string | RegExp): void {
  assert.throws(() => parseImageReference(input), (err: unknown) => {
    assert.ok(err instanceof UsageError, `${input}: ${err}`);
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

// --- normalisation -------------------------------------------------------------------------

Deno.test("familiar, canonical and legacy-index spellings normalise to one reference", () => {
  // [familiar, canonical, other spellings..., domain, path]
  const table: [string, string, string[], string, string][] = [
    ["fooo/bar", "docker.io/fooo/bar", ["index.docker.io/fooo/bar"], "docker.io", "fooo/bar"],
    ["ubuntu", "docker.io/library/ubuntu", ["library/ubuntu"], "docker.io", "library/ubuntu"],
    ["nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", [], "docker.io", "nonlibrary/ubuntu"],
    ["other/library", "docker.io/other/library", [], "docker.io", "other/library"],
    [
      "127.0.0.1:8000/private/moonbase",
      "127.0.0.1:8000/private/moonbase",
      [],
      "127.0.0.1:8000",
      "private/moonbase",
    ],
    [
      "127.0.0.1:8000/privatebase",
      "127.0.0.1:8000/privatebase",
      [],
      "127.0.0.1:8000",
      "privatebase",
    ],
    [
      "example.com/private/moonbase",
      "example.com/private/moonbase",
      [],
      "example.com",
      "private/moonbase",
    ],
    ["example.com/privatebase", "example.com/privatebase", [], "example.com", "privatebase"],
    [
      "example.com:8000/private/moonbase",
      "example.com:8000/private/moonbase",
      [],
      "example.com:8000",
      "private/moonbase",
    ],
    [
      "example.com:8000/privatebasee",
      "example.com:8000/privatebasee",
      [],
      "example.com:8000",
      "privatebasee",
    ],
    [
      "ubuntu-12.04-base",
      "docker.io/library/ubuntu-12.04-base",
      ["index.docker.io/library/ubuntu-12.04-base"],
      "docker.io",
      "library/ubuntu-12.04-base",
    ],
    [
      "foo",
      "docker.io/library/foo",
      ["docker.io/foo", "index.docker.io/foo"],
      "docker.io",
      "library/foo",
    ],
    ["library/foo/bar", "docker.io/library/foo/bar", [], "docker.io", "library/foo/bar"],
    ["store/foo/bar", "docker.io/store/foo/bar", [], "docker.io", "store/foo/bar"],
    ["Foo/bar", "Foo/bar", [], "Foo", "bar"],
    ["FOO/bar", "FOO/bar", [], "FOO", "bar"],
  ];
  for (const [familiar, canonical, others, domain, path] of table) {
    for (const input of [familiar, canonical, ...others]) {
      const ref = parseDockerReference(input);
      assert.equal(ref.toString(), canonical, input);
      assert.equal(ref.name, canonical, input);
      assert.equal(ref.familiarString(), familiar, input);
      assert.equal(ref.domain, domain, input);
      assert.equal(ref.path, path, input);
    }
  }
});

Deno.test("the first component is a registry only with a dot, a colon, localhost or uppercase", () => {
  const table: [string, string, string][] = [
    ["test.com/foo", "test.com", "foo"],
    ["test_com/foo", "docker.io", "test_com/foo"],
    ["docker/migrator", "docker.io", "docker/migrator"],
    ["test.com:8080/foo", "test.com:8080", "foo"],
    ["test-com:8080/foo", "test-com:8080", "foo"],
    ["foo", "docker.io", "library/foo"],
    ["xn--n3h.com/foo", "xn--n3h.com", "foo"],
    ["xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"],
    ["docker.io/foo", "docker.io", "library/foo"],
    ["docker.io/library/foo", "docker.io", "library/foo"],
    ["docker.io/library/foo/bar", "docker.io", "library/foo/bar"],
    ["localhost/foo", "localhost", "foo"],
    ["localhost:5000/a/b", "localhost:5000", "a/b"],
    ["localhostx/foo", "docker.io", "localhostx/foo"],
    ["sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux"],
    ["Docker/docker", "Docker", "docker"],
  ];
  for (const [input, domain, path] of table) {
    const ref = parseDockerReference(input);
    assert.deepEqual([ref.domain, ref.path], [domain, path], input);
  }
});

Deno.test("index.docker.io is rewritten to docker.io and gains library/ for one component", () => {
  const ref = parseDockerReference("index.docker.io/debian:12");
  assert.equal(ref.toString(), "docker.io/library/debian:12");
  assert.equal(ref.familiarString(), "debian:12");
});

Deno.test("library/ is added only on Docker Hub, never on other registries", () => {
  assert.equal(parseDockerReference("localhost:5000/ubuntu").path, "ubuntu");
  assert.equal(parseDockerReference("quay.io/ubuntu").path, "ubuntu");
  assert.equal(parseDockerReference("docker.io/ubuntu").path, "library/ubuntu");
});

Deno.test("a single component is never a registry, so host:port alone is name and tag", () => {
  const table: [string, string, string | undefined][] = [
    ["test_com", "docker.io/library/test_com", undefined],
    ["test.com:tag", "docker.io/library/test.com", "tag"],
    ["test.com:5000", "docker.io/library/test.com", "5000"],
    ["localhost:5000", "docker.io/library/localhost", "5000"],
    ["foo_bar.com:8080", "docker.io/library/foo_bar.com", "8080"],
    ["192.168.1.1", "docker.io/library/192.168.1.1", undefined],
    ["192.168.1.1:tag", "docker.io/library/192.168.1.1", "tag"],
    ["192.168.1.1:5000", "docker.io/library/192.168.1.1", "5000"],
  ];
  for (const [input, name, tag] of table) {
    const ref = parseDockerReference(input);
    assert.equal(ref.name, name, input);
    assert.equal(ref.tag, tag, input);
  }
});

Deno.test("no default tag is added and absent parts are absent", () => {
  const ref = parseDockerReference("ubuntu");
  assert.equal(ref.tag, undefined);
  assert.equal(ref.digest, undefined);
  assert.equal("tag" in ref, false);
  assert.equal("digest" in ref, false);
  assert.equal(ref.toString(), "docker.io/library/ubuntu");
});

// --- hosts, ports, IP addresses ------------------------------------------------------------

Deno.test("registries with ports, IPv4 addresses and punycode hosts parse", () => {
  const table: [string, ReturnType<typeof parts>][] = [
    ["test:5000/repo", { domain: "test:5000", path: "repo", tag: undefined, digest: undefined }],
    ["test:5000/repo:tag", { domain: "test:5000", path: "repo", tag: "tag", digest: undefined }],
    [`test:5000/repo@${SHA256}`, {
      domain: "test:5000",
      path: "repo",
      tag: undefined,
      digest: SHA256,
    }],
    [`test:5000/repo:tag@${SHA256}`, {
      domain: "test:5000",
      path: "repo",
      tag: "tag",
      digest: SHA256,
    }],
    ["test.com/repo:tag", { domain: "test.com", path: "repo", tag: "tag", digest: undefined }],
    ["192.168.1.1/repo", {
      domain: "192.168.1.1",
      path: "repo",
      tag: undefined,
      digest: undefined,
    }],
    ["192.168.1.1:5000/repo", {
      domain: "192.168.1.1:5000",
      path: "repo",
      tag: undefined,
      digest: undefined,
    }],
    ["192.168.1.1:5000/repo:5050", {
      domain: "192.168.1.1:5000",
      path: "repo",
      tag: "5050",
      digest: undefined,
    }],
    ["127.0.0.1:5000/x", {
      domain: "127.0.0.1:5000",
      path: "x",
      tag: undefined,
      digest: undefined,
    }],
    ["b.gcr.io/test.example.com/my-app:test.example.com", {
      domain: "b.gcr.io",
      path: "test.example.com/my-app",
      tag: "test.example.com",
      digest: undefined,
    }],
    ["xn--n3h.com/myimage:xn--n3h.com", {
      domain: "xn--n3h.com",
      path: "myimage",
      tag: "xn--n3h.com",
      digest: undefined,
    }],
    [`xn--7o8h.com/myimage:xn--7o8h.com@${SHA512}`, {
      domain: "xn--7o8h.com",
      path: "myimage",
      tag: "xn--7o8h.com",
      digest: SHA512,
    }],
  ];
  for (const [input, expected] of table) {
    const ref = parseDockerReference(input);
    assert.deepEqual(parts(ref), expected, input);
    assert.equal(ref.toString(), input, input);
  }
});

Deno.test("bracketed IPv6 registries parse with and without port", () => {
  const table: [string, string, string, string | undefined, string | undefined][] = [
    ["[2001:db8::1]/repo", "[2001:db8::1]", "repo", undefined, undefined],
    ["[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag", undefined],
    ["[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", undefined, undefined],
    ["[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag", undefined],
    [`[2001:db8::1]:5000/repo@${SHA256}`, "[2001:db8::1]:5000", "repo", undefined, SHA256],
    [`[2001:db8::1]:5000/repo:tag@${SHA256}`, "[2001:db8::1]:5000", "repo", "tag", SHA256],
    ["[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", undefined, undefined],
    ["[::1]:5000/repo", "[::1]:5000", "repo", undefined, undefined],
    ["[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", undefined, undefined],
    [
      "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
      "[fc00:1:2:3:4:5:6:7]:5000",
      "library/debian",
      undefined,
      undefined,
    ],
  ];
  for (const [input, domain, path, tag, digest] of table) {
    const ref = parseDockerReference(input);
    assert.deepEqual(parts(ref), { domain, path, tag, digest }, input);
    assert.equal(ref.toString(), input);
    assert.equal(ref.familiarString(), input);
  }
});

Deno.test("IPv6 without brackets, zone identifiers, IPv4-mapped forms and bare hosts are rejected", () => {
  for (
    const input of [
      "[2001:db8::1]",
      "[2001:db8::1]:5000",
      "[2001:db8::1]:tag",
      "[fc00::1]",
      "[fc00::1]:5000",
      "fc00::1:5000/debian",
      "[fe80::1%eth0]:5000/repo",
      "[fe80::1%@invalidzone]:5000/repo",
      "[2001:db8:3:4::192.0.2.33]:5000/debian",
    ]
  ) {
    assertInvalid(input, "invalid reference format");
  }
});

// --- path components ------------------------------------------------------------------------

Deno.test("valid repository names from the upstream tables parse", () => {
  for (
    const input of [
      "docker/docker",
      "library/debian",
      "debian",
      "docker.io/docker/docker",
      "docker.io/library/debian",
      "docker.io/debian",
      "index.docker.io/docker/docker",
      "index.docker.io/library/debian",
      "index.docker.io/debian",
      "127.0.0.1:5000/docker/docker",
      "127.0.0.1:5000/library/debian",
      "127.0.0.1:5000/debian",
      "192.168.0.1",
      "192.168.0.1:80",
      "192.168.0.1:8/debian",
      "192.168.0.2:25000/debian",
      "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
      "[fc00::1]:5000/docker",
      `docker.io/${HEX64}`,
      "DOCKER/docker",
      "docker-rules/docker",
      "docker---rules/docker",
      "doc/docker",
      "d/docker",
      "jess/t",
      "dock__er/docker",
      "a.b/c_d__e---f",
      "foo/foo_bar.com:8080",
    ]
  ) {
    assert.doesNotThrow(() => parseDockerReference(input), input);
  }
});

Deno.test("malformed path components are an invalid reference format", () => {
  for (
    const input of [
      "",
      ":justtag",
      "@" + SHA256,
      "https://github.com/docker/docker",
      "-docker",
      "-foo",
      "-docker/docker",
      "-docker.io/docker/docker",
      "docker-/docker",
      "-docker-/docker",
      "docker///docker",
      "docker.io/docker///docker",
      "____/____",
      "_docker/_docker",
      "dock..er/docker",
      "dock_.er/docker",
      "dock-.er/docker",
      "dock___er/docker",
      "docker/",
      "aa/asdf$$^/aa",
      "a b",
      "ubuntu:",
      "ubuntu@",
      "ubuntu:1:2",
    ]
  ) {
    assertInvalid(input, "invalid reference format");
  }
});

Deno.test("a registry-looking first component that is not a valid host is rejected", () => {
  // Upstream would return a reference without any domain here; ours always has one.
  assertInvalid("foo_bar.com/x", "invalid reference format");
  assertInvalid("-docker.io/x", "invalid reference format");
});

// --- uppercase ------------------------------------------------------------------------------

Deno.test("uppercase repository names are rejected with the lowercase message", () => {
  const message = "invalid reference format: repository name must be lowercase";
  for (
    const input of [
      "Uppercase:tag",
      "Foo",
      "docker/Docker",
      "docker.io/docker/Docker",
      "docker.io/Foo",
      "test:5000/Uppercase/lowercase:tag",
      "localhost:5000/A",
      "Foo@" + SHA256,
    ]
  ) {
    assertInvalid(input, message);
  }
});

Deno.test("uppercase tags and registries are allowed", () => {
  const ref = parseDockerReference("lowercase:Uppercase");
  assert.equal(ref.tag, "Uppercase");
  assert.equal(parseDockerReference("Registry.Example.COM/a").domain, "Registry.Example.COM");
});

// --- 64-hex identifiers ----------------------------------------------------------------------

Deno.test("a bare 64-character hex name is refused as an identifier", () => {
  assertInvalid(
    HEX64,
    `invalid repository name (${HEX64}), cannot specify 64-byte hexadecimal strings`,
  );
  // Only exactly 64 lowercase hex characters are an identifier.
  assert.equal(parseDockerReference(HEX64.slice(0, 63)).path, `library/${HEX64.slice(0, 63)}`);
  assert.equal(parseDockerReference(`${HEX64}:tag`).tag, "tag");
  assert.equal(parseDockerReference(`docker.io/${HEX64}`).path, `library/${HEX64}`);
});

// --- length limits -----------------------------------------------------------------------------

Deno.test("repository paths longer than 255 characters are rejected", () => {
  const tooLong = "repository name must not be more than 255 characters";
  assertInvalid("a/".repeat(128) + "a:tag", tooLong);
  assertInvalid("localhost:5000/" + "a".repeat(256), tooLong);
  assertInvalid("x/" + "a".repeat(254), tooLong);
  assertInvalid(
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255".repeat(4) + "/docker",
    tooLong,
  );
});

Deno.test("a repository path of exactly 255 characters is accepted, domain not counted", () => {
  const path255 = "a/".repeat(127) + "a";
  assert.equal(path255.length, 255);
  const hub = parseDockerReference(path255 + ":tag-puts-this-over-max");
  assert.equal(hub.path, path255);
  assert.equal(hub.tag, "tag-puts-this-over-max");
  const local = parseDockerReference(`registry.example.com:5000/${"b".repeat(255)}`);
  assert.equal(local.path.length, 255);
  // "library/" counts: a one-component Hub name may be 247 characters.
  assert.equal(parseDockerReference("c".repeat(247)).path.length, 255);
  assertInvalid("c".repeat(248), "repository name must not be more than 255 characters");
});

Deno.test("tags may be up to 128 word characters, dots and dashes, not starting with . or -", () => {
  const tag128 = "t".repeat(128);
  assert.equal(parseDockerReference(`ubuntu:${tag128}`).tag, tag128);
  assert.equal(parseDockerReference("ubuntu:_x.Y-1").tag, "_x.Y-1");
  for (const tag of ["t".repeat(129), ".x", "-x", "a+b", "a/b"]) {
    assertInvalid(`ubuntu:${tag}`, "invalid reference format");
  }
});

// --- digests -------------------------------------------------------------------------------------

Deno.test("sha256 and sha512 digests are accepted", () => {
  assert.equal(parseDockerReference(`ubuntu@${SHA256}`).digest, SHA256);
  assert.equal(parseDockerReference(`ubuntu@${SHA512}`).digest, SHA512);
  const ref = parseDockerReference(`dmcgowan/myapp@${SHA256}`);
  assert.equal(ref.toString(), `docker.io/dmcgowan/myapp@${SHA256}`);
  assert.equal(ref.tag, undefined);
});

Deno.test("a digest of the wrong length is an invalid checksum digest length", () => {
  for (
    const digest of [
      "sha256:" + "f".repeat(34),
      "sha256:" + "f".repeat(63),
      "sha256:" + "f".repeat(65),
      "sha512:" + "f".repeat(64),
    ]
  ) {
    assertInvalid(`repo@${digest}`, "invalid checksum digest length");
  }
});

Deno.test("grammatical digests with unknown algorithms are unsupported", () => {
  for (const algorithm of ["invaliddigest", "sha384", "md5", "sha256+b64", "blake3"]) {
    assertInvalid(`validname@${algorithm}:${"f".repeat(64)}`, "unsupported digest algorithm");
  }
});

Deno.test("uppercase hex or an uppercase algorithm is an invalid checksum digest format", () => {
  assertInvalid(`repo@sha256:${"F".repeat(64)}`, "invalid checksum digest format");
  assertInvalid(`repo:1@SHA256:${"f".repeat(64)}`, "invalid checksum digest format");
  // Without a tag the normaliser sees "repo@SHA256" as the repository name, as upstream does.
  assertInvalid(
    `repo@SHA256:${"f".repeat(64)}`,
    "invalid reference format: repository name must be lowercase",
  );
});

Deno.test("digests outside the grammar are an invalid reference format", () => {
  for (
    const digest of [
      "sha256:" + "f".repeat(31),
      "sha256:" + "g".repeat(64),
      "1sha:" + "f".repeat(64),
      "sha256-:" + "f".repeat(64),
      "sha256",
      "",
    ]
  ) {
    assertInvalid(`repo@${digest}`, "invalid reference format");
  }
});

Deno.test("tag and digest together are both kept, in canonical and familiar form", () => {
  const short =
    "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
  const ref = parseDockerReference(short);
  assert.equal(ref.tag, "latest");
  assert.equal(ref.digest, short.slice("busybox:latest@".length));
  assert.equal(ref.toString(), `docker.io/library/${short}`);
  assert.equal(ref.familiarString(), short);
});

// --- familiar strings ----------------------------------------------------------------------------

Deno.test("familiar strings strip docker.io and a single-level library/ only", () => {
  const table: [string, string][] = [
    ["docker.io/library/ubuntu:22.04", "ubuntu:22.04"],
    ["docker.io/library/redis", "redis"],
    ["docker.io/dmcgowan/myapp", "dmcgowan/myapp"],
    ["docker.io/library/foo/bar", "library/foo/bar"],
    [`docker.io/library/redis@${SHA256}`, `redis@${SHA256}`],
    ["localhost:5000/library/ubuntu:1", "localhost:5000/library/ubuntu:1"],
    ["quay.io/coreos/etcd:v3", "quay.io/coreos/etcd:v3"],
    ["[::1]:5000/x:y", "[::1]:5000/x:y"],
  ];
  for (const [input, familiar] of table) {
    assert.equal(parseDockerReference(input).familiarString(), familiar, input);
  }
});

Deno.test("canonical strings round-trip through the parser", () => {
  for (
    const input of [
      "ubuntu",
      "ubuntu:22.04",
      `ubuntu:22.04@${SHA256}`,
      "localhost:5000/a/b:1",
      "[::1]:5000/x@" + SHA512,
      "index.docker.io/library/x",
    ]
  ) {
    const once = parseDockerReference(input);
    const twice = parseDockerReference(once.toString());
    assert.deepEqual(parts(twice), parts(once), input);
    assert.equal(parseDockerReference(once.familiarString()).toString(), once.toString());
  }
});

Deno.test("docker references are immutable", () => {
  const ref = parseDockerReference("ubuntu:22.04");
  assert.ok(Object.isFrozen(ref));
  assert.throws(() => {
    (ref as { tag?: string }).tag = "x";
  }, TypeError);
});

// --- withTag / withDigest / repositoryOnly ---------------------------------------------------------

Deno.test("withTag sets the tag and drops any digest", () => {
  const table: [string, string, string][] = [
    ["test.com/foo", "tag", "test.com/foo:tag"],
    ["foo", "tag2", "docker.io/library/foo:tag2"],
    ["test.com:8000/foo", "tag4", "test.com:8000/foo:tag4"],
    ["test.com:8000/foo", "TAG5", "test.com:8000/foo:TAG5"],
    [`test.com:8000/foo:old@${SHA256}`, "TAG5", "test.com:8000/foo:TAG5"],
  ];
  for (const [input, tag, combined] of table) {
    const ref = withTag(parseDockerReference(input), tag);
    assert.equal(ref.toString(), combined, input);
    assert.equal(ref.digest, undefined);
  }
});

Deno.test("withTag rejects tags outside the grammar", () => {
  const ref = parseDockerReference("busybox");
  for (const tag of ["-foo", ".foo", "", "t".repeat(129), "a:b", "a@b"]) {
    assert.throws(() => withTag(ref, tag), (err: unknown) => {
      assert.ok(err instanceof InvalidReferenceError);
      assert.equal(err.message, "invalid tag format");
      return true;
    }, tag);
  }
});

Deno.test("withDigest sets the digest and drops any tag", () => {
  const table: [string, string, string][] = [
    ["test.com/foo", SHA256, `test.com/foo@${SHA256}`],
    ["foo", SHA512, `docker.io/library/foo@${SHA512}`],
    ["test.com:8000/foo:tag", SHA256, `test.com:8000/foo@${SHA256}`],
    [`foo@${SHA512}`, SHA256, `docker.io/library/foo@${SHA256}`],
  ];
  for (const [input, digest, combined] of table) {
    const ref = withDigest(parseDockerReference(input), digest);
    assert.equal(ref.toString(), combined, input);
    assert.equal(ref.tag, undefined);
  }
});

Deno.test("withDigest rejects malformed, unknown and wrong-length digests", () => {
  const ref = parseDockerReference("busybox");
  const table: [string, string][] = [
    ["foo", "invalid digest format"],
    ["sha256:abc", "invalid digest format"],
    ["md5:" + "f".repeat(32), "unsupported digest algorithm"],
    ["sha256:" + "f".repeat(40), "invalid checksum digest length"],
    ["sha256:" + "F".repeat(64), "invalid checksum digest format"],
  ];
  for (const [digest, message] of table) {
    assert.throws(() => withDigest(ref, digest), (err: unknown) => {
      assert.ok(err instanceof InvalidReferenceError);
      assert.equal(err.message, message, digest);
      return true;
    });
  }
});

Deno.test("repositoryOnly drops tag and digest but keeps domain and path", () => {
  const ref = repositoryOnly(parseDockerReference(`localhost:5000/a/b:1@${SHA256}`));
  assert.deepEqual(parts(ref), {
    domain: "localhost:5000",
    path: "a/b",
    tag: undefined,
    digest: undefined,
  });
  assert.equal(ref.toString(), "localhost:5000/a/b");
  assert.equal(ref.name, "localhost:5000/a/b");
});

Deno.test("reference errors are usage errors with the usage exit code", () => {
  try {
    parseDockerReference("UPPER");
    assert.fail("expected an error");
  } catch (err) {
    assert.ok(err instanceof InvalidReferenceError);
    assert.ok(err instanceof UsageError);
    assert.equal(err.exitCode, ExitCode.Usage);
  }
});

// --- image references --------------------------------------------------------------------------------

function dockerOf(ref: ImageReference): DockerReference {
  assert.equal(ref.transport, "docker");
  if (ref.transport !== "docker") throw new Error("unreachable");
  return ref.docker;
}

Deno.test("docker:// references parse with the docker grammar", () => {
  const ref = parseImageReference("docker://ubuntu:22.04");
  assert.equal(dockerOf(ref).toString(), "docker.io/library/ubuntu:22.04");
  assert.equal(ref.toString(), "docker://docker.io/library/ubuntu:22.04");
  assert.equal(
    parseImageReference(`docker://[::1]:5000/a@${SHA256}`).toString(),
    `docker://[::1]:5000/a@${SHA256}`,
  );
});

Deno.test("a string without transport is a docker reference, host:port included", () => {
  const table: [string, string][] = [
    ["ubuntu", "docker://docker.io/library/ubuntu"],
    ["ubuntu:22.04", "docker://docker.io/library/ubuntu:22.04"],
    ["localhost:5000/a/b:1", "docker://localhost:5000/a/b:1"],
    ["localhost/x", "docker://localhost/x"],
    ["127.0.0.1:5000/x", "docker://127.0.0.1:5000/x"],
    ["[::1]:5000/x:y", "docker://[::1]:5000/x:y"],
    ["registry.example.com:443/team/app", "docker://registry.example.com:443/team/app"],
  ];
  for (const [input, expected] of table) {
    const ref = parseImageReference(input);
    assert.equal(ref.transport, "docker", input);
    assert.equal(ref.toString(), expected, input);
  }
});

Deno.test("bad docker references through either spelling raise InvalidReferenceError", () => {
  for (const input of ["docker://Foo", "Foo", "docker://", "", "docker://a@sha256:00"]) {
    assert.throws(() => parseImageReference(input), InvalidReferenceError, input);
  }
});

Deno.test("docker: without // is refused as skopeo does", () => {
  assertUsage(
    "docker:ubuntu",
    'invalid docker reference "docker:ubuntu": must start with docker://',
  );
  assertUsage("docker:/ubuntu", /must start with docker:\/\//);
});

Deno.test("oci: takes a path and an optional reference after the first colon", () => {
  const bare = parseImageReference("oci:/tmp/layout");
  assert.deepEqual({ ...bare, toString: undefined }, {
    transport: "oci",
    path: "/tmp/layout",
    toString: undefined,
  });
  assert.equal(bare.toString(), "oci:/tmp/layout");
  const named = parseImageReference("oci:./layout:v1.0");
  assert.equal(named.transport, "oci");
  if (named.transport !== "oci") return;
  assert.equal(named.path, "./layout");
  assert.equal(named.reference, "v1.0");
  assert.equal(named.toString(), "oci:./layout:v1.0");
  const colons = parseImageReference("oci:/l:example.com/app:1");
  if (colons.transport !== "oci") throw new Error("expected oci");
  assert.equal(colons.path, "/l");
  assert.equal(colons.reference, "example.com/app:1");
});

Deno.test("oci-archive: takes a path and an optional reference", () => {
  const ref = parseImageReference("oci-archive:/tmp/image.tar:latest");
  assert.equal(ref.transport, "oci-archive");
  if (ref.transport !== "oci-archive") return;
  assert.equal(ref.path, "/tmp/image.tar");
  assert.equal(ref.reference, "latest");
  assert.equal(ref.toString(), "oci-archive:/tmp/image.tar:latest");
  const bare = parseImageReference("oci-archive:image.tar");
  if (bare.transport !== "oci-archive") throw new Error("expected oci-archive");
  assert.equal(bare.reference, undefined);
  assert.equal("reference" in bare, false);
});

Deno.test("oci references must follow the OCI ref.name grammar", () => {
  for (const input of ["oci:/l:-bad", "oci:/l:a b", "oci-archive:/a.tar:x//y", "oci:/l:"]) {
    assertUsage(input, /^invalid oci(-archive)? reference ".*": /);
  }
});

Deno.test("docker-archive: takes a path and an optional tagged name or @index", () => {
  const tagged = parseImageReference("docker-archive:/tmp/a.tar:busybox:latest");
  assert.equal(tagged.transport, "docker-archive");
  if (tagged.transport !== "docker-archive") return;
  assert.equal(tagged.path, "/tmp/a.tar");
  assert.equal(tagged.reference, "busybox:latest");
  assert.equal(tagged.toString(), "docker-archive:/tmp/a.tar:busybox:latest");
  const index = parseImageReference("docker-archive:a.tar:@1");
  if (index.transport !== "docker-archive") throw new Error("expected docker-archive");
  assert.equal(index.reference, "@1");
  const bare = parseImageReference("docker-archive:a.tar");
  assert.equal(bare.toString(), "docker-archive:a.tar");
});

Deno.test("docker-archive references must be valid names without digests", () => {
  assertUsage(
    `docker-archive:a.tar:busybox@${SHA256}`,
    `invalid docker-archive reference "docker-archive:a.tar:busybox@${SHA256}": docker-archive doesn't support digest references`,
  );
  assert.throws(
    () => parseImageReference("docker-archive:a.tar:Busybox"),
    (err: unknown) => {
      assert.ok(err instanceof InvalidReferenceError);
      assert.match(err.message, /^invalid docker-archive reference .*must be lowercase$/);
      return true;
    },
  );
});

Deno.test("dir: takes a path", () => {
  const ref = parseImageReference("dir:/tmp/img");
  assert.equal(ref.transport, "dir");
  if (ref.transport !== "dir") return;
  assert.equal(ref.path, "/tmp/img");
  assert.equal(ref.toString(), "dir:/tmp/img");
  assert.equal(parseImageReference("dir:relative/dir").toString(), "dir:relative/dir");
});

Deno.test("an empty path is a usage error for every path transport", () => {
  for (const transport of ["oci", "oci-archive", "docker-archive", "dir"]) {
    assertUsage(`${transport}:`, `invalid ${transport} reference "${transport}:": empty path`);
  }
  assertUsage("oci::tag", /empty path/);
});

Deno.test("known skopeo transports we do not support are named with the supported list", () => {
  const supported = "supported transports are docker://, oci:, oci-archive:, docker-archive:, dir:";
  for (
    const [input, name] of [
      ["docker-daemon:busybox:latest", "docker-daemon"],
      ["containers-storage:localhost/x", "containers-storage"],
      ["ostree:busybox@/ostree/repo", "ostree"],
      ["sif:/tmp/a.sif", "sif"],
      ["tarball:/tmp/a.tar", "tarball"],
    ]
  ) {
    assertUsage(input, `unknown transport "${name}": ${supported}`);
  }
});

Deno.test("any other scheme:// is an unknown transport", () => {
  for (const [input, name] of [["https://ghcr.io/x", "https"], ["foo+bar://x", "foo+bar"]]) {
    assertUsage(input, new RegExp(`^unknown transport "${name.replace("+", "\\+")}": supported`));
  }
});

Deno.test("image references never throw anything but usage errors for bad input", () => {
  for (const input of ["docker:x", "sif:x", "oci:", "Foo", "https://x", "dir:"]) {
    assert.throws(() => parseImageReference(input), UsageError, input);
  }
});

Deno.test("SUPPORTED_TRANSPORTS lists the five transports and cannot be changed", () => {
  assert.deepEqual([...SUPPORTED_TRANSPORTS], [
    "docker",
    "oci",
    "oci-archive",
    "docker-archive",
    "dir",
  ]);
  assert.ok(Object.isFrozen(SUPPORTED_TRANSPORTS));
});

Deno.test("every transport's toString parses back to an equal reference", () => {
  for (
    const input of [
      "docker://localhost:5000/a/b:1",
      "oci:/tmp/l:v1",
      "oci:/tmp/l",
      "oci-archive:a.tar:x",
      "docker-archive:a.tar:busybox:1",
      "dir:/tmp/d",
    ]
  ) {
    const text = parseImageReference(input).toString();
    assert.equal(text, input);
    assert.equal(parseImageReference(text).toString(), input);
  }
});

Deno.test("parseImageReference names an unknown transport whose path is not a reference", () => {
  for (const s of ["oci-layout:/x", "podman:./d", "layout:~/images"]) {
    assert.throws(() => parseImageReference(s), (e: Error) => {
      assert.match(e.message, /^unknown transport "[a-z-]+": supported transports are docker:\/\//);
      return true;
    });
  }
  // A host with a port is still a docker reference.
  assert.equal(parseImageReference("localhost:5000/a").toString(), "docker://localhost:5000/a");
});
