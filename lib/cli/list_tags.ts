/**
 * `dtool list-tags REPO`.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { parseImageReference } from "../reference.ts";
import { canListTags } from "../remotes/remotes.ts";
import { debugLine, printJson } from "./common.ts";
import { openWithFlags } from "./registry_flags.ts";

/** Flags of `dtool list-tags`. */
export interface ListTagsFlags {
  creds?: string;
  authfile?: string;
  certDir?: string;
  tlsVerify: boolean;
  debug?: boolean;
}

/** Runs the list-tags command. */
export async function runListTags(arg: string, flags: ListTagsFlags): Promise<void> {
  const image = parseImageReference(arg);
  const end = await openWithFlags(image, flags);
  if (end.namesImage && end.transport === "docker") {
    throw new UsageError(
      `${arg} names a tag or digest; list-tags takes a repository, e.g. ${end.repository}`,
    );
  }
  const { resolver } = end;
  if (!canListTags(resolver)) {
    throw new UsageError(`list-tags does not work on ${end.transport}: references`);
  }
  try {
    const tags = await resolver.listTags(end.repositoryRef);
    printJson({ Repository: end.repository, Tags: tags });
  } finally {
    if (flags.debug) debugLine(`${end.requestCount()} HTTP requests`);
  }
}
