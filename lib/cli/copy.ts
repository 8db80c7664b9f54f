/**
 * `dtool copy SRC DEST`.
 *
 * @module
 */
import { copyImage, type CopyOptions } from "../copy.ts";
import { UsageError } from "../errors.ts";
import { parsePlatform } from "../platform.ts";
import { parseImageReference } from "../reference.ts";
import { debugLine } from "./common.ts";
import { openEndpoint } from "./transports.ts";
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
  referrers?: boolean;
  referrersArtifactType?: string[];
  digestTags?: boolean;
  debug?: boolean;
  additionalTag?: string[];
}

/** The flags `copy` and `sync` share. */
export type TransferFlags = Pick<
  CopyFlags,
  | "all"
  | "platform"
  | "jobs"
  | "retryTimes"
  | "retryDelay"
  | "referrers"
  | "referrersArtifactType"
  | "digestTags"
>;

/** What to copy and how to retry, from the flags `copy` and `sync` share. */
export function transferOptions(flags: TransferFlags): CopyOptions {
  return {
    all: flags.all,
    platforms: (flags.platform ?? []).map(parsePlatform),
    jobs: flags.jobs,
    retryTimes: flags.retryTimes,
    retryDelayMs: flags.retryDelay,
    fixedRetryDelay: flags.retryDelay !== undefined,
    referrers: flags.referrers,
    referrerArtifactTypes: flags.referrersArtifactType,
    digestTags: flags.digestTags,
  };
}

/** Runs the copy command. */
export async function runCopy(srcArg: string, destArg: string, flags: CopyFlags): Promise<void> {
  const srcImage = parseImageReference(srcArg);
  const destImage = parseImageReference(destArg);
  if (flags.all && flags.platform?.length) {
    throw new UsageError("--all and --platform cannot be used together");
  }
  if (flags.all && destImage.transport === "docker-archive") {
    // Said before anything moves: the format holds images, not indexes.
    throw new UsageError(
      "a docker-archive holds images, not an index: copy one platform (--platform), not --all",
    );
  }
  if (flags.additionalTag?.length && destImage.transport !== "docker-archive") {
    throw new UsageError("--additional-tag works only with a docker-archive: destination");
  }
  const mode = flags.progress as ProgressMode; // commander checked it against the choices
  const transfer = transferOptions(flags); // a bad --platform is one line before anything opens
  const debug = flags.debug ?? false;
  const common = {
    authfile: flags.authfile,
    debug,
    retryTimes: flags.retryTimes,
    retryDelayMs: flags.retryDelay,
  };
  const src = await openEndpoint(srcImage, {
    ...common,
    role: "source",
    creds: flags.srcCreds,
    credsFlag: "--src-creds",
    certDir: flags.srcCertDir,
    tlsVerify: flags.srcTlsVerify,
  });
  const dest = await openEndpoint(destImage, {
    ...common,
    role: "destination",
    peer: src,
    creds: flags.destCreds,
    credsFlag: "--dest-creds",
    certDir: flags.destCertDir,
    tlsVerify: flags.destTlsVerify,
    uploadChunkSize: flags.uploadChunkSize,
    additionalTags: flags.additionalTag,
  });
  if ((flags.referrers || flags.digestTags) && !dest.holdsReferrers) {
    throw new UsageError(`${destArg}: a ${dest.transport} destination cannot hold referrers`);
  }
  const renderer = progressRenderer(flags.quiet ? "none" : mode);
  let done = false;
  try {
    const result = await copyImage(
      { resolver: src.resolver, ref: src.ref },
      { resolver: dest.resolver, ref: dest.ref, tag: dest.tag, digest: dest.digest },
      {
        ...transfer,
        onProgress: flags.quiet ? undefined : renderer.listener,
      },
    );
    await dest.close();
    done = true;
    if (flags.digestfile) await Deno.writeTextFile(flags.digestfile, result.digest);
  } finally {
    if (!done) await dest.discard();
    renderer.close();
    if (debug) {
      const s = src.requestCount();
      const d = dest.requestCount();
      debugLine(
        dest.sharesPeerClient
          ? `${s} HTTP requests`
          : `${s + d} HTTP requests (source ${s}, destination ${d})`,
      );
    }
  }
}
