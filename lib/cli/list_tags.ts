/**
 * `dtool list-tags REPO`.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { debugLine, dockerArgument, makeResolver, printJson } from "./common.ts";

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
  const { docker } = dockerArgument(arg);
  if (docker.tag !== undefined || docker.digest !== undefined) {
    throw new UsageError(
      `${arg} names a tag or digest; list-tags takes a repository, e.g. ${docker.name}`,
    );
  }
  const resolver = await makeResolver({
    creds: flags.creds,
    credsFlag: "--creds",
    authfile: flags.authfile,
    certDir: flags.certDir,
    tlsVerify: flags.tlsVerify,
    debug: flags.debug ?? false,
  });
  try {
    const tags = await resolver.listTags(docker.toString());
    printJson({ Repository: docker.name, Tags: tags });
  } finally {
    if (flags.debug) debugLine(`${resolver.client.requests} HTTP requests`);
  }
}
