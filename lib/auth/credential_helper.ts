/**
 * Docker credential helpers (`docker-credential-<name>`), spoken to as the
 * docker CLI does: `get`, `store` and `erase` with JSON on stdin and stdout.
 *
 * @module
 */
import type { Credentials } from "./credentials.ts";

/** Why a helper gave no credentials. */
export class CredentialHelperError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "CredentialHelperError";
  }
}

/** The docker CLI's username for an identity (refresh) token. */
const TOKEN_USERNAME = "<token>";

/**
 * Feeds `input` to the helper's stdin while its output is read. A helper may
 * exit without reading its input (one that only prints "keychain locked"):
 * the write then fails with a broken pipe, which says nothing, so it is
 * ignored and the helper's own words are reported instead.
 */
async function feed(stdin: WritableStream<Uint8Array>, input: string): Promise<void> {
  try {
    const w = stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  } catch (e) {
    if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
  }
}

async function run(name: string, verb: string, input: string): Promise<string> {
  const program = `docker-credential-${name}`;
  let out: Deno.CommandOutput;
  try {
    const child = new Deno.Command(program, {
      args: [verb],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Both at once: waiting for the write first could deadlock on a helper that writes a lot
    // before reading, and loses its message when it exits without reading.
    [, out] = await Promise.all([feed(child.stdin, input), child.output()]);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CredentialHelperError(`credential helper ${program} is not installed`);
    }
    throw new CredentialHelperError(`credential helper ${program} failed: ${(e as Error).message}`);
  }
  const stdout = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    // Helpers print "credentials not found…" on stdout; anything else they say is cut short
    // and never taken from a JSON answer, which could hold a secret.
    const text = stdout.startsWith("{") ? "" : stdout;
    const said = (text || new TextDecoder().decode(out.stderr).trim()).split("\n")[0].slice(0, 200);
    if (/credentials not found/i.test(said)) {
      throw new CredentialHelperError(`${program} has no credentials for this registry`);
    }
    throw new CredentialHelperError(`credential helper ${program} ${verb} failed: ${said}`);
  }
  return stdout;
}

/**
 * Asks a helper for the credentials of a server URL.
 *
 * @example
 * ```ts
 * import { helperGet } from "./credential_helper.ts";
 * // const creds = await helperGet("desktop", "https://index.docker.io/v1/");
 * ```
 */
export async function helperGet(name: string, serverUrl: string): Promise<Credentials> {
  const stdout = await run(name, "get", serverUrl);
  let doc: { Username?: string; Secret?: string };
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new CredentialHelperError(`docker-credential-${name} answered with invalid JSON`);
  }
  if (!doc.Secret) throw new CredentialHelperError(`docker-credential-${name} gave no secret`);
  if (doc.Username === TOKEN_USERNAME) {
    return { username: "", password: "", identityToken: doc.Secret };
  }
  return { username: doc.Username ?? "", password: doc.Secret };
}

/**
 * Stores credentials with a helper.
 *
 * @example
 * ```ts
 * import { helperStore } from "./credential_helper.ts";
 * // await helperStore("pass", "registry.example", { username: "u", password: "p" });
 * ```
 */
export async function helperStore(
  name: string,
  serverUrl: string,
  creds: Credentials,
): Promise<void> {
  await run(
    name,
    "store",
    JSON.stringify({ ServerURL: serverUrl, Username: creds.username, Secret: creds.password }),
  );
}

/**
 * Erases the credentials of a server URL from a helper.
 *
 * @example
 * ```ts
 * import { helperErase } from "./credential_helper.ts";
 * // await helperErase("pass", "registry.example");
 * ```
 */
export async function helperErase(name: string, serverUrl: string): Promise<void> {
  await run(name, "erase", serverUrl);
}
