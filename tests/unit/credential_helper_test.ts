import assert from "node:assert/strict";
import { CredentialHelperError, helperGet } from "../../lib/auth/credential_helper.ts";

/** Puts helper scripts on PATH for the duration of `fn`. */
async function withHelpers(
  helpers: Record<string, string>,
  fn: () => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const path = Deno.env.get("PATH") ?? "";
  try {
    for (const [name, script] of Object.entries(helpers)) {
      await Deno.writeTextFile(`${dir}/docker-credential-${name}`, script, { mode: 0o755 });
    }
    Deno.env.set("PATH", `${dir}:${path}`);
    await fn();
  } finally {
    Deno.env.set("PATH", path);
    await Deno.remove(dir, { recursive: true });
  }
}

// Before stdin was written concurrently, about 1 run in 12 reported "Broken pipe" here on an
// idle machine, and 3 in 4 on a loaded one: 50 runs catch it.
const RUNS = 50;

Deno.test("a helper that exits without reading its input is reported in its own words", async () => {
  await withHelpers(
    { dtoolgone: "#!/bin/sh\necho 'keychain locked' >&2\nexit 1\n" },
    async () => {
      for (let i = 0; i < RUNS; i++) {
        await assert.rejects(
          () => helperGet("dtoolgone", "https://registry.example"),
          (e: Error) => {
            assert.ok(e instanceof CredentialHelperError);
            assert.equal(
              e.message,
              "credential helper docker-credential-dtoolgone get failed: keychain locked",
            );
            return true;
          },
          `run ${i + 1}`,
        );
      }
    },
  );
});

Deno.test("a helper that exits at once saying it has no credentials is not a broken pipe", async () => {
  await withHelpers(
    { dtoolnone: "#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n" },
    async () => {
      for (let i = 0; i < RUNS; i++) {
        await assert.rejects(
          () => helperGet("dtoolnone", "https://registry.example"),
          /docker-credential-dtoolnone has no credentials for this registry/,
          `run ${i + 1}`,
        );
      }
    },
  );
});

Deno.test("a helper that reads its input answers with the credentials for that URL", async () => {
  await withHelpers(
    {
      dtoolok: `#!/bin/sh
read -r url
printf '{"ServerURL":"%s","Username":"u","Secret":"s3cret"}' "$url"
`,
    },
    async () => {
      assert.deepEqual(await helperGet("dtoolok", "https://registry.example"), {
        username: "u",
        password: "s3cret",
      });
    },
  );
});

Deno.test("a helper that is not installed is named in the error", async () => {
  await assert.rejects(
    () => helperGet("dtool-no-such-helper", "https://registry.example"),
    /docker-credential-dtool-no-such-helper is not installed/,
  );
});
