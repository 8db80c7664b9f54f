import assert from "node:assert/strict";
import { join } from "node:path";
import { parseCredentials } from "../../lib/auth/credentials.ts";
import {
  configKeyHost,
  credentialsFromConfig,
  type DockerConfig,
  dockerConfigPath,
  readDockerConfig,
} from "../../lib/auth/docker_config.ts";
import { credentialLookup } from "../../lib/auth/credential_store.ts";
import { ExitCode, UsageError } from "../../lib/errors.ts";

function assertUsage(fn: () => unknown, check?: (message: string) => void): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, String(err));
    assert.equal(err.exitCode, ExitCode.Usage);
    check?.(err.message);
    return true;
  });
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dtool_auth_config_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `fn` with environment variables set (undefined = unset), restoring them after. */
function withEnv(vars: Record<string, string | undefined>, fn: () => void): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) Deno.env.delete(k);
      else Deno.env.set(k, value);
    }
  };
  apply(vars);
  try {
    fn();
  } finally {
    apply(saved);
  }
}

// --- parseCredentials ---

Deno.test("parseCredentials splits USER:PASS at the first colon", () => {
  assert.deepEqual(parseCredentials("alice:s3:cr:et"), { username: "alice", password: "s3:cr:et" });
  assert.deepEqual(parseCredentials("bob:"), { username: "bob", password: "" });
  assert.deepEqual(parseCredentials("u:p@ss word"), { username: "u", password: "p@ss word" });
});

Deno.test("parseCredentials without a colon is a UsageError that does not echo the value", () => {
  const secret = "hunter2-very-secret";
  assertUsage(() => parseCredentials(secret, "--src-creds"), (message) => {
    assert.ok(!message.includes(secret), message);
    assert.ok(!message.includes("hunter2"), message);
    assert.match(message, /--src-creds/);
  });
});

Deno.test("parseCredentials names --creds by default", () => {
  assertUsage(() => parseCredentials("nocolon"), (message) => {
    assert.match(message, /^--creds /);
    assert.ok(!message.includes("nocolon"));
  });
});

Deno.test("parseCredentials refuses an empty user name without echoing the password", () => {
  assertUsage(() => parseCredentials(":topsecret", "--dest-creds"), (message) => {
    assert.ok(!message.includes("topsecret"), message);
    assert.match(message, /--dest-creds/);
  });
});

// --- readDockerConfig ---

Deno.test("readDockerConfig of a missing file is an empty config", async () => {
  await withTempDir(async (dir) => {
    assert.deepEqual(await readDockerConfig(join(dir, "config.json")), {});
    assert.deepEqual(await readDockerConfig(join(dir, "no", "such", "config.json")), {});
  });
});

Deno.test("readDockerConfig reads auths from a file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "config.json");
    const cfg = { auths: { "localhost:5000": { auth: btoa("u:p") } }, credsStore: "desktop" };
    await Deno.writeTextFile(path, JSON.stringify(cfg));
    assert.deepEqual(await readDockerConfig(path), cfg);
  });
});

Deno.test("readDockerConfig of malformed JSON is a UsageError naming the file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "config.json");
    await Deno.writeTextFile(path, '{"auths": {');
    await assert.rejects(readDockerConfig(path), (err: unknown) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.ok(err.message.includes(path), err.message);
      assert.match(err.message, /not valid JSON/);
      return true;
    });
  });
});

Deno.test("the config file is read at the first lookup, not before, and read once", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "config.json");
    const lookup = await credentialLookup({ authfile: path }); // no file yet: nothing read
    await Deno.writeTextFile(
      path,
      JSON.stringify({ auths: { "r.example": { auth: btoa("u:p") } } }),
    );
    assert.equal((await lookup("r.example"))?.password, "p");
    await Deno.writeTextFile(path, '{"auths": {');
    assert.equal(await lookup("other.example"), undefined, "the file was read once");
    const broken = await credentialLookup({ authfile: path });
    await assert.rejects(broken("r.example"), /not valid JSON/);
  });
});

Deno.test("readDockerConfig refuses JSON that is not an object, naming the file", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "config.json");
    for (const text of ["[]", "null", "42"]) {
      await Deno.writeTextFile(path, text);
      await assert.rejects(readDockerConfig(path), (err: unknown) => {
        assert.ok(err instanceof UsageError, `${text}: ${err}`);
        assert.ok(err.message.includes(path));
        return true;
      });
    }
  });
});

Deno.test("readDockerConfig refuses auths that is not an object", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "config.json");
    await Deno.writeTextFile(path, '{"auths": "x"}');
    await assert.rejects(readDockerConfig(path), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /"auths" is not an object/);
      return true;
    });
  });
});

Deno.test("readDockerConfig of a directory is a UsageError naming it", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(readDockerConfig(dir), (err: unknown) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.ok(err.message.includes(dir));
      return true;
    });
  });
});

// --- dockerConfigPath ---

Deno.test("dockerConfigPath honours DOCKER_CONFIG", () => {
  withEnv({ DOCKER_CONFIG: "/tmp/some/dir" }, () => {
    assert.equal(dockerConfigPath(), join("/tmp/some/dir", "config.json"));
  });
});

Deno.test("dockerConfigPath falls back to ~/.docker/config.json", () => {
  withEnv({ DOCKER_CONFIG: undefined, HOME: "/home/tester" }, () => {
    assert.equal(dockerConfigPath(), join("/home/tester", ".docker", "config.json"));
  });
  withEnv({ DOCKER_CONFIG: "", HOME: "/home/other" }, () => {
    assert.equal(dockerConfigPath(), join("/home/other", ".docker", "config.json"));
  });
});

Deno.test("readDockerConfig reads $DOCKER_CONFIG/config.json by default", async () => {
  await withTempDir(async (dir) => {
    const cfg = { auths: { "r.example": { username: "u", password: "p" } } };
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(cfg));
    const saved = Deno.env.get("DOCKER_CONFIG");
    Deno.env.set("DOCKER_CONFIG", dir);
    try {
      assert.deepEqual(await readDockerConfig(), cfg);
    } finally {
      if (saved === undefined) Deno.env.delete("DOCKER_CONFIG");
      else Deno.env.set("DOCKER_CONFIG", saved);
    }
  });
});

// --- configKeyHost ---

Deno.test("configKeyHost reduces URL-shaped keys to their host and port", () => {
  assert.equal(configKeyHost("https://index.docker.io/v1/"), "index.docker.io");
  assert.equal(configKeyHost("https://myreg:5000/v1/"), "myreg:5000");
  assert.equal(configKeyHost("http://localhost:5000"), "localhost:5000");
  assert.equal(configKeyHost("myreg:5000/v2/"), "myreg:5000");
  assert.equal(configKeyHost("HTTPS://MyReg.Example"), "myreg.example");
});

Deno.test("configKeyHost leaves bare hosts as they are, lower-cased", () => {
  assert.equal(configKeyHost("localhost:5000"), "localhost:5000");
  assert.equal(configKeyHost("Quay.IO"), "quay.io");
  assert.equal(configKeyHost("[::1]:5000"), "[::1]:5000");
});

// --- credentialsFromConfig ---

Deno.test("credentialsFromConfig finds an exact key", () => {
  const cfg: DockerConfig = {
    auths: {
      "localhost:5000": { auth: btoa("alice:pw1") },
      "localhost:5001": { auth: btoa("bob:pw2") },
    },
  };
  assert.deepEqual(credentialsFromConfig(cfg, "localhost:5001"), {
    username: "bob",
    password: "pw2",
  });
  assert.equal(credentialsFromConfig(cfg, "localhost:5002"), undefined);
  assert.equal(credentialsFromConfig(cfg, "localhost"), undefined);
});

Deno.test("credentialsFromConfig matches URL-shaped keys by host and port", () => {
  const cfg: DockerConfig = { auths: { "https://myreg:5000/v1/": { auth: btoa("u:p") } } };
  assert.deepEqual(credentialsFromConfig(cfg, "myreg:5000"), { username: "u", password: "p" });
  assert.equal(credentialsFromConfig(cfg, "myreg"), undefined);
  assert.equal(credentialsFromConfig(cfg, "myreg:5001"), undefined);
});

Deno.test("credentialsFromConfig prefers the exact key over a URL-shaped one", () => {
  const cfg: DockerConfig = {
    auths: {
      "https://myreg:5000/v1/": { auth: btoa("url:1") },
      "myreg:5000": { auth: btoa("exact:2") },
    },
  };
  assert.equal(credentialsFromConfig(cfg, "myreg:5000")?.username, "exact");
});

Deno.test("credentialsFromConfig serves docker.io and registry-1.docker.io from the index.docker.io key", () => {
  const cfg: DockerConfig = {
    auths: { "https://index.docker.io/v1/": { auth: btoa("hubuser:hubpass") } },
  };
  for (const registry of ["docker.io", "registry-1.docker.io", "index.docker.io"]) {
    assert.deepEqual(
      credentialsFromConfig(cfg, registry),
      { username: "hubuser", password: "hubpass" },
      registry,
    );
  }
  assert.equal(credentialsFromConfig(cfg, "quay.io"), undefined);
  assert.equal(credentialsFromConfig(cfg, "docker.io.evil.example"), undefined);
});

Deno.test("credentialsFromConfig does not lend Docker Hub credentials to other registries", () => {
  const cfg: DockerConfig = { auths: { "docker.io": { auth: btoa("hub:pw") } } };
  assert.equal(credentialsFromConfig(cfg, "registry-1.docker.io")?.username, "hub");
  assert.equal(credentialsFromConfig(cfg, "localhost:5000"), undefined);
  assert.equal(credentialsFromConfig(cfg, "ghcr.io"), undefined);
});

Deno.test("credentialsFromConfig decodes auth at the first colon", () => {
  const cfg: DockerConfig = { auths: { "r.example": { auth: btoa("user:pa:ss") } } };
  assert.deepEqual(credentialsFromConfig(cfg, "r.example"), {
    username: "user",
    password: "pa:ss",
  });
});

Deno.test("credentialsFromConfig uses username and password when there is no auth", () => {
  const cfg: DockerConfig = {
    auths: { "r.example": { username: "plain", password: "text" } },
  };
  assert.deepEqual(credentialsFromConfig(cfg, "r.example"), {
    username: "plain",
    password: "text",
  });
});

Deno.test("credentialsFromConfig prefers auth over username and password", () => {
  const cfg: DockerConfig = {
    auths: { "r.example": { auth: btoa("fromauth:a"), username: "fields", password: "f" } },
  };
  assert.deepEqual(credentialsFromConfig(cfg, "r.example"), {
    username: "fromauth",
    password: "a",
  });
});

Deno.test("credentialsFromConfig returns nothing for an entry without usable credentials", () => {
  const cfg: DockerConfig = {
    auths: { "a.example": {}, "b.example": { username: "only" }, "c.example": { auth: "" } },
  };
  assert.equal(credentialsFromConfig(cfg, "a.example"), undefined);
  assert.equal(credentialsFromConfig(cfg, "b.example"), undefined);
  assert.equal(credentialsFromConfig(cfg, "c.example"), undefined);
  assert.equal(credentialsFromConfig({}, "a.example"), undefined);
});

Deno.test("credentialsFromConfig with bad base64 is a UsageError", () => {
  const cfg: DockerConfig = { auths: { "r.example": { auth: "!!not base64!!" } } };
  assertUsage(() => credentialsFromConfig(cfg, "r.example"), (message) => {
    assert.match(message, /not valid base64/);
    assert.ok(!message.includes("!!not base64!!"));
  });
});

Deno.test("credentialsFromConfig with auth lacking a colon is a UsageError that hides it", () => {
  const cfg: DockerConfig = { auths: { "r.example": { auth: btoa("justatoken") } } };
  assertUsage(() => credentialsFromConfig(cfg, "r.example"), (message) => {
    assert.match(message, /not base64 of USER:PASSWORD/);
    assert.ok(!message.includes("justatoken"));
  });
});

Deno.test("readDockerConfig names the file and key of a malformed entry, never a raw error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [unknown, RegExp][] = [
      [{ credHelpers: "oops" }, /"credHelpers" is not an object of helper names/],
      [{ credHelpers: { "r.example": 7 } }, /"credHelpers" is not an object of helper names/],
      [{ credsStore: ["desktop"] }, /"credsStore" is not a helper name/],
      [{ auths: { "r.example": "x" } }, /auths entry "r\.example" is not an object/],
      [{ auths: { "r.example": { auth: 5 } } }, /auths entry "r\.example" has a non-string "auth"/],
      [{ auths: { "r.example": { auth: "!!" } } }, /auths entry "r\.example": "auth" is not valid/],
    ];
    for (const [doc, pattern] of cases) {
      const path = `${dir}/config.json`;
      await Deno.writeTextFile(path, JSON.stringify(doc));
      await assert.rejects(readDockerConfig(path), (e: Error) => {
        assert.ok(e instanceof UsageError, `${JSON.stringify(doc)}: ${e}`);
        assert.ok(e.message.startsWith(`${path}: `), e.message);
        assert.match(e.message, pattern);
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
