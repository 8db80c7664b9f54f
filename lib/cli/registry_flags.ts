/**
 * What the commands that take one reference share (inspect, list-tags,
 * referrers, tag, delete, digest, catalog): their registry flags
 * (`--creds`, `--authfile`, `--cert-dir`, `--tls-verify`, `--debug`),
 * turned into an {@linkcode Endpoint}.
 *
 * @module
 */
import type { ImageReference } from "../reference.ts";
import { type Endpoint, openEndpoint } from "./transports.ts";

/** Registry flags of a one-reference command. */
export interface RegistryFlags {
  creds?: string;
  authfile?: string;
  certDir?: string;
  tlsVerify: boolean;
  debug?: boolean;
}

/** Opens `image` with the command's registry flags. */
export function openWithFlags(
  image: ImageReference,
  flags: RegistryFlags,
  role: "source" | "destination" = "source",
): Promise<Endpoint> {
  return openEndpoint(image, {
    role,
    creds: flags.creds,
    credsFlag: "--creds",
    authfile: flags.authfile,
    certDir: flags.certDir,
    tlsVerify: flags.tlsVerify,
    debug: flags.debug ?? false,
  });
}
