/**
 * `dtool copy SRC DEST`.
 *
 * @module
 */
import { copyImage } from "../copy.ts";
import { UsageError } from "../errors.ts";
import { parsePlatform } from "../platform.ts";
import { debugLine, dockerArgument, makeResolver } from "./common.ts";
import { type ProgressMode, progressRenderer } from "./progress_render.ts";

/** Flags of `dtool copy`. */
export interface CopyFlags {
  all?: boolean;
  platform?: string[];
  srcCreds?: string;
  destCreds?: string;
  authfile?: string;
  srcCertDir?: string;
  destCertDir?: string;
  srcTlsVerify: boolean;
  destTlsVerify: boolean;
  digestfile?: string;
  quiet?: boolean;
  jobs?: number;
  progress: string;
  retryTimes?: number;
  retryDelay?: number;
  uploadChunkSize?: number;
  debug?: boolean;
}

/** Runs the copy command. */
export async function runCopy(srcArg: string, destArg: string, flags: CopyFlags): Promise<void> {
  const src = dockerArgument(srcArg);
  const dest = dockerArgument(destArg);
  if (dest.docker.tag !== undefined && dest.docker.digest !== undefined) {
    throw new UsageError(
      `destination ${destArg} has both a tag and a digest; give one (a tag to write, or a digest to check)`,
    );
  }
  if (flags.all && flags.platform?.length) {
    throw new UsageError("--all and --platform cannot be used together");
  }
  const mode = flags.progress as ProgressMode; // commander checked it against the choices
  const platforms = (flags.platform ?? []).map(parsePlatform);
  const debug = flags.debug ?? false;
  const srcResolver = await makeResolver({
    creds: flags.srcCreds,
    credsFlag: "--src-creds",
    authfile: flags.authfile,
    certDir: flags.srcCertDir,
    tlsVerify: flags.srcTlsVerify,
    debug,
    retryTimes: flags.retryTimes,
    retryDelayMs: flags.retryDelay,
  });
  // Both ends on one registry with the same settings share one client: one ping, one pool of
  // connections, and the source's token cache.
  const sameRegistry = src.docker.domain === dest.docker.domain &&
    flags.srcCreds === flags.destCreds && flags.srcTlsVerify === flags.destTlsVerify &&
    flags.srcCertDir === flags.destCertDir;
  const destResolver = await makeResolver({
    client: sameRegistry ? srcResolver.client : undefined,
    creds: flags.destCreds,
    credsFlag: "--dest-creds",
    authfile: flags.authfile,
    certDir: flags.destCertDir,
    forPush: true,
    uploadChunkSize: flags.uploadChunkSize,
    mountFrom: src.docker.domain === dest.docker.domain ? src.docker.path : undefined,
    tlsVerify: flags.destTlsVerify,
    debug,
    retryTimes: flags.retryTimes,
    retryDelayMs: flags.retryDelay,
  });
  const d = dest.docker;
  const tag = d.tag ?? (d.digest ? undefined : "latest");
  const renderer = progressRenderer(flags.quiet ? "none" : mode);
  try {
    const result = await copyImage(
      { resolver: srcResolver, ref: src.docker.toString() },
      { resolver: destResolver, ref: d.toString(), tag, digest: d.digest },
      {
        all: flags.all,
        platforms,
        jobs: flags.jobs,
        retryTimes: flags.retryTimes,
        retryDelayMs: flags.retryDelay,
        fixedRetryDelay: flags.retryDelay !== undefined,
        onProgress: flags.quiet ? undefined : renderer.listener,
      },
    );
    if (flags.digestfile) await Deno.writeTextFile(flags.digestfile, result.digest);
  } finally {
    renderer.close();
    if (debug) {
      debugLine(
        sameRegistry
          ? `${srcResolver.client.requests} HTTP requests`
          : `${srcResolver.client.requests + destResolver.client.requests} HTTP requests ` +
            `(source ${srcResolver.client.requests}, destination ${destResolver.client.requests})`,
      );
    }
  }
}
