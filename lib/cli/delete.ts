/**
 * `dtool delete REF`.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { canDelete } from "../manage.ts";
import { parseImageReference } from "../reference.ts";
import { debugLine } from "./common.ts";
import { openWithFlags, type RegistryFlags } from "./registry_flags.ts";

/** Runs the delete command: says on stderr what went. */
export async function runDelete(arg: string, flags: RegistryFlags): Promise<void> {
  const end = await openWithFlags(parseImageReference(arg), flags, "destination");
  try {
    if (!end.namesImage) throw new UsageError(`${arg} names no tag or digest to delete`);
    if (!canDelete(end.resolver)) {
      throw new UsageError(`delete does not work on ${end.transport}: references`);
    }
    const done = await end.resolver.deleteManifest(end.ref);
    console.error(
      done.tagOnly ? `dtool: deleted tag ${arg}` : `dtool: deleted manifest ${done.digest}`,
    );
  } finally {
    if (flags.debug) debugLine(`${end.requestCount()} HTTP requests`);
  }
}
