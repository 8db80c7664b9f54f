/**
 * Credentials as users give them: `USER:PASS` on the command line.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/** A user name and password (or token) for a registry. */
export interface Credentials {
  /** User name. */
  username: string;
  /** Password or token. Never print it. */
  password: string;
}

/**
 * Parses `USER:PASS`, split at the first colon, as skopeo's `--creds` does.
 * The error names the flag but never echoes the value.
 *
 * @example
 * ```ts
 * import { parseCredentials } from "./credentials.ts";
 * console.log(parseCredentials("alice:s3:cret").username); // "alice"
 * ```
 */
export function parseCredentials(value: string, flag = "--creds"): Credentials {
  const colon = value.indexOf(":");
  if (colon < 0) throw new UsageError(`${flag} must be USER:PASSWORD (no colon found)`);
  const username = value.slice(0, colon);
  if (username === "") throw new UsageError(`${flag} has an empty user name`);
  return { username, password: value.slice(colon + 1) };
}
