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
  /** OAuth2 refresh token (`identitytoken`), exchanged at the token realm. Never print it. */
  identityToken?: string;
  /** A bearer token to send as is (`registrytoken`). Never print it. */
  registryToken?: string;
}

/**
 * Parses `USER:PASS`, split at the first colon, as skopeo's `--creds` does.
 * The error names the flag but never echoes the value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCredentials } from "./credentials.ts";
 * assert.deepEqual(parseCredentials("alice:s3:cret").username, "alice");
 * ```
 */
export function parseCredentials(value: string, flag = "--creds"): Credentials {
  const colon = value.indexOf(":");
  if (colon < 0) throw new UsageError(`${flag} must be USER:PASSWORD (no colon found)`);
  const username = value.slice(0, colon);
  if (username === "") throw new UsageError(`${flag} has an empty user name`);
  return { username, password: value.slice(colon + 1) };
}

/**
 * The value of a Basic Authorization header, UTF-8 encoded as Docker does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { basicAuthorization } from "./credentials.ts";
 * assert.deepEqual(basicAuthorization("u", "pässword"), "Basic dTpww6Rzc3dvcmQ=");
 * ```
 */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${encodeBase64Text(`${username}:${password}`)}`;
}

/**
 * Base64 of text as UTF-8 (`auth` values of Docker's config, Basic credentials).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBase64Text } from "./credentials.ts";
 * assert.deepEqual(encodeBase64Text("u:pässword"), "dTpww6Rzc3dvcmQ=");
 * ```
 */
export function encodeBase64Text(text: string): string {
  let binary = "";
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * Decodes base64 of UTF-8 text (`auth` values of Docker's config).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeBase64Text } from "./credentials.ts";
 * assert.deepEqual(decodeBase64Text("dTpww6Rzc3dvcmQ="), "u:pässword");
 * ```
 */
export function decodeBase64Text(value: string): string {
  const binary = atob(value);
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}
