/**
 * `dtool login REGISTRY` and `dtool logout REGISTRY`.
 *
 * @module
 */
import { authFilePath } from "../auth/credential_store.ts";
import { removeLogin, storeLogin } from "../auth/login.ts";
import { AuthError, DtoolError, UsageError } from "../errors.ts";
import { RegistryClient } from "../remotes/docker/http.ts";
import { debugLine } from "./common.ts";

/** Flags of `dtool login`. */
export interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  authfile?: string;
  tlsVerify: boolean;
  certDir?: string;
  debug?: boolean;
}

function registryHost(arg: string): string {
  const host = arg.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "").toLowerCase();
  if (!host || /\s/.test(host)) throw new UsageError(`invalid registry ${JSON.stringify(arg)}`);
  return host === "index.docker.io" ? "docker.io" : host;
}

async function readStdin(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.replace(/\r?\n$/, "");
}

/** Checks credentials against the registry, then stores them. */
export async function runLogin(arg: string, flags: LoginFlags): Promise<void> {
  const host = registryHost(arg);
  if (!flags.username) throw new UsageError("--username is required");
  if (flags.password !== undefined && flags.passwordStdin) {
    throw new UsageError("--password and --password-stdin cannot be used together");
  }
  if (flags.password !== undefined) {
    console.error(
      "dtool: warning: --password is visible to other processes; prefer --password-stdin",
    );
  }
  const password = flags.passwordStdin ? await readStdin() : flags.password;
  if (password === undefined || password === "") {
    throw new UsageError("a password is required: use --password-stdin");
  }
  const creds = { username: flags.username, password };
  const client = new RegistryClient({
    credentials: () => Promise.resolve(creds),
    insecure: () => !flags.tlsVerify,
    certDir: () => flags.certDir,
    debug: flags.debug ? debugLine : undefined,
  });
  try {
    const res = await client.request({ host, path: "/v2/" });
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403) {
      throw new AuthError(`login to ${host} refused: invalid username or password`);
    }
    if (!res.ok) throw new DtoolError(`login to ${host} failed: HTTP ${res.status}`);
  } finally {
    await client.close();
  }
  const where = await storeLogin(authFilePath(flags.authfile), host, creds);
  console.error(
    where.kind === "helper"
      ? `Login Succeeded (stored with docker-credential-${where.helper})`
      : `Login Succeeded (stored in ${where.path})`,
  );
}

/** Flags of `dtool logout`. */
export interface LogoutFlags {
  authfile?: string;
}

/** Removes stored credentials for a registry. */
export async function runLogout(arg: string, flags: LogoutFlags): Promise<void> {
  const host = registryHost(arg);
  const removed = await removeLogin(authFilePath(flags.authfile), host);
  console.error(removed ? `Removed login credentials for ${host}` : `Not logged in to ${host}`);
}
