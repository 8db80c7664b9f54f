/**
 * What every command shares: flag value parsers, credentials and TLS
 * settings turned into a resolver, the debug trace, and JSON output.
 *
 * @module
 */
import type { Credentials } from "../auth/credentials.ts";
import { parseCredentials } from "../auth/credentials.ts";
import { credentialLookup } from "../auth/credential_store.ts";
import type { RegistryClient } from "../remotes/docker/http.ts";
import { DockerResolver } from "../remotes/docker/resolver.ts";

/** Writes a `dtool: debug:` line to stderr. */
export function debugLine(line: string): void {
  console.error(`dtool: debug: ${line}`);
}

/** Settings for one registry end of a command. */
export interface EndSettings {
  /** `USER:PASS` from the command line, if given. */
  creds?: string;
  /** Flag name for errors about `creds`. */
  credsFlag: string;
  /** Config file instead of Docker's (`--authfile`). */
  authfile?: string;
  /** Certificate directory (`--cert-dir`). */
  certDir?: string;
  /** False when TLS verification is off. */
  tlsVerify: boolean;
  /** Trace HTTP on stderr. */
  debug: boolean;
  /** Retries of failed requests. */
  retryTimes?: number;
  /** A fixed delay between retries (skopeo's --retry-delay); backoff when absent. */
  retryDelayMs?: number;
  /** The end is a copy destination (ask for push access from the start). */
  forPush?: boolean;
  /** Upload blobs in chunks of this many bytes. */
  uploadChunkSize?: number;
  /** Source repository on the same registry, for mounts. */
  mountFrom?: string;
  /** Share this HTTP client (and its endpoint and token caches). */
  client?: RegistryClient;
}

/** A resolver with credentials from the flag, a credential helper or the config file. */
export async function makeResolver(s: EndSettings): Promise<DockerResolver> {
  const flag: Credentials | undefined = s.creds !== undefined
    ? parseCredentials(s.creds, s.credsFlag)
    : undefined;
  // A shared client already has its credentials: no second read of the config file.
  const credentials = s.client ? undefined : await credentialLookup({
    flag,
    authfile: s.authfile,
    warn: (m) => console.error(`dtool: note: ${m}`),
  });
  return new DockerResolver({
    credentials,
    insecure: () => !s.tlsVerify,
    certDir: () => s.certDir,
    debug: s.debug ? debugLine : undefined,
    retryTimes: s.retryTimes,
    retryDelayMs: s.retryDelayMs,
    fixedRetryDelay: s.retryDelayMs !== undefined,
    forPush: s.forPush,
    uploadChunkSize: s.uploadChunkSize,
    mountFrom: s.mountFrom,
    client: s.client,
  });
}

/** Prints a value as JSON with a 4-space indent, as skopeo does. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 4));
}

/** Writes bytes to stdout exactly. */
export async function writeStdout(bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) {
    written += await Deno.stdout.write(bytes.subarray(written));
  }
}
