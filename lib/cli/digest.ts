/**
 * `dtool digest REF`.
 *
 * @module
 */
import { manifestDigest } from "../manage.ts";
import { parsePlatform } from "../platform.ts";
import { parseImageReference } from "../reference.ts";
import { debugLine } from "./common.ts";
import { openWithFlags, type RegistryFlags } from "./registry_flags.ts";

/** Flags of `dtool digest`. */
export interface DigestFlags extends RegistryFlags {
  platform?: string;
}

/** Runs the digest command: the digest alone on stdout. */
export async function runDigest(arg: string, flags: DigestFlags): Promise<void> {
  const platform = flags.platform ? parsePlatform(flags.platform) : undefined;
  const end = await openWithFlags(parseImageReference(arg), flags);
  try {
    console.log(await manifestDigest(end.resolver, end.ref, { platform }));
  } finally {
    if (flags.debug) debugLine(`${end.requestCount()} HTTP requests`);
  }
}
