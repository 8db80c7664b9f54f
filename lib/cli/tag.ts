/**
 * `dtool tag REF NEWTAG...`.
 *
 * @module
 */
import { retagReference, tagManifest } from "../manage.ts";
import { parseImageReference } from "../reference.ts";
import { debugLine } from "./common.ts";
import { openWithFlags, type RegistryFlags } from "./registry_flags.ts";

/** Runs the tag command: prints nothing; the manifest keeps its digest. */
export async function runTag(arg: string, newTags: string[], flags: RegistryFlags): Promise<void> {
  const image = parseImageReference(arg);
  const targets = newTags.map((t) => retagReference(image, t));
  const end = await openWithFlags(image, flags, "destination");
  try {
    const tags = [];
    for (const target of targets) {
      const t = await openWithFlags(target, flags, "destination");
      tags.push({ ref: t.ref, tag: t.tag! });
    }
    await tagManifest(end.resolver, end.ref, tags);
  } finally {
    if (flags.debug) debugLine(`${end.requestCount()} HTTP requests`);
  }
}
