/**
 * `dtool sync --src docker|yaml|oci --dest docker|oci|dir SOURCE DESTINATION`:
 * list the source's images, name their destinations, keep this shard's,
 * open both ends of each through the transport table (one HTTP client per
 * registry for the whole run), and hand them to the scheduler.
 *
 * @module
 */
import { DtoolError, ExitCode, UsageError } from "../errors.ts";
import { parseImageReference } from "../reference.ts";
import { redactText } from "../redact.ts";
import type { RegistryClient } from "../remotes/docker/http.ts";
import { planSync, type SyncDestination, type SyncItem } from "../sync/plan.ts";
import { type SyncImageResult, syncImages, type SyncTask } from "../sync/scheduler.ts";
import { parseShard } from "../sync/shard.ts";
import {
  dockerSource,
  ociSource,
  type OpenSource,
  type SourceFailure,
  type SourceListing,
  type SourceSettings,
  yamlSource,
} from "../sync/sources.ts";
import { debugLine } from "./common.ts";
import { transferOptions } from "./copy.ts";
import { formatBytes } from "./terminal.ts";
import { describeImage, syncProgress, type SyncProgressMode } from "./sync_progress.ts";
import { type EndpointOptions, openEndpoint } from "./transports.ts";

/** Flags of `dtool sync`. */
export interface SyncFlags {
  src: string;
  dest: string;
  scoped?: boolean;
  appendSuffix?: string;
  all?: boolean;
  platform?: string[];
  dryRun?: boolean;
  keepGoing?: boolean;
  jobs?: number;
  retryTimes?: number;
  retryDelay?: number;
  srcCreds?: string;
  destCreds?: string;
  srcAuthfile?: string;
  destAuthfile?: string;
  authfile?: string;
  srcTlsVerify: boolean;
  destTlsVerify: boolean;
  srcCertDir?: string;
  destCertDir?: string;
  shard?: string;
  progress: string;
  quiet?: boolean;
  referrers?: boolean;
  referrersArtifactType?: string[];
  digestTags?: boolean;
  debug?: boolean;
}

/** Runs the sync command. */
export async function runSync(
  source: string,
  destination: string,
  flags: SyncFlags,
): Promise<void> {
  if (flags.all && flags.platform?.length) {
    throw new UsageError("--all and --platform cannot be used together");
  }
  // Parsed first, so a bad --platform is one line before anything is listed.
  const transfer = transferOptions(flags);
  const shard = flags.shard === undefined
    ? undefined
    : parseShard(flags.shard, Deno.env.toObject());
  const debug = flags.debug ?? false;
  const clients = new Map<string, Promise<RegistryClient>>();
  const common = {
    debug,
    retryTimes: flags.retryTimes,
    retryDelayMs: flags.retryDelay,
    clients,
  };
  const sourceOptions = (settings?: SourceSettings): EndpointOptions => ({
    ...common,
    role: "source",
    authfile: flags.srcAuthfile ?? flags.authfile,
    creds: settings?.creds ?? flags.srcCreds,
    credsFlag: settings?.creds !== undefined ? `credentials of ${source}` : "--src-creds",
    certDir: settings?.certDir ?? flags.srcCertDir,
    tlsVerify: settings?.tlsVerify ?? flags.srcTlsVerify,
  });
  const destOptions: EndpointOptions = {
    ...common,
    role: "destination",
    authfile: flags.destAuthfile ?? flags.authfile,
    creds: flags.destCreds,
    credsFlag: "--dest-creds",
    certDir: flags.destCertDir,
    tlsVerify: flags.destTlsVerify,
  };
  const open: OpenSource = (image, settings) =>
    openEndpoint(parseImageReference(image), sourceOptions(settings));

  try {
    // Everything a file or argument can get wrong is found here, before anything is copied.
    const listing = await listSource(flags.src, source, open);
    const dest: SyncDestination = {
      kind: flags.dest as SyncDestination["kind"],
      location: destination,
    };
    if ((flags.referrers || flags.digestTags) && dest.kind === "dir") {
      throw new UsageError("--dest dir cannot hold referrers or digest tags");
    }
    if (dest.kind === "docker") {
      parseImageReference(`docker://${destination.replace(/^docker:\/\//, "")}/x`);
    }
    const items = planSync(listing.images, {
      destination: dest,
      scoped: flags.scoped,
      appendSuffix: flags.appendSuffix,
      shard,
      withSubjects: flags.referrers || flags.digestTags,
    });
    const probe = dest.kind === "docker" ||
      (dest.kind === "oci" && await exists(`${destination}/oci-layout`));
    const opened = await openTasks(items, sourceOptions, destOptions, probe);
    const failures: string[] = [
      ...listing.failures.map(sourceFailureLine),
      ...opened.failures,
    ];
    for (const line of failures) console.error(`dtool: sync: ${line}`);
    const total = opened.tasks.length + failures.length;
    let results: SyncImageResult[] = [];
    let summary;
    const started = performance.now();
    if (failures.length === 0 || flags.keepGoing) {
      if (dest.kind === "oci" && !flags.dryRun && opened.tasks.length) {
        // Create the layout once, before many images write into it at the same time.
        await opened.tasks[0].dst.resolver.pusher(opened.tasks[0].dst.ref);
      }
      const mode = (flags.quiet ? "none" : flags.progress) as SyncProgressMode;
      const progress = syncProgress(mode, opened.tasks.length);
      try {
        summary = await syncImages(opened.tasks, {
          ...transfer,
          keepGoing: flags.keepGoing,
          dryRun: flags.dryRun,
          onEvent: progress.listener,
        });
      } finally {
        progress.close();
      }
      results = summary.images;
    }
    if (flags.dryRun) {
      for (const r of results) console.log(describeImage({ type: "image-done", ...r }));
    }
    const failed = results.filter((r) => r.status === "failed");
    const failedCount = failed.length + failures.length;
    if (!flags.quiet || failedCount) {
      const elapsed = summary?.elapsedMs ?? Math.round(performance.now() - started);
      const stopped = summary ? summary.stopped : opened.tasks.length;
      const counts = flags.dryRun
        ? `${summary?.planned ?? 0} to copy, ${summary?.skipped ?? 0} current`
        : `${summary?.copied ?? 0} copied, ${summary?.skipped ?? 0} skipped (current)`;
      const line = `${
        flags.dryRun ? "Dry run" : "Synced"
      }: ${total} images: ${counts}, ${failedCount} failed${
        stopped ? `, ${stopped} not done` : ""
      }; ${formatBytes(summary?.bytes ?? 0)} in ${(elapsed / 1000).toFixed(1)}s`;
      if (flags.progress === "json" && !flags.quiet) {
        console.error(JSON.stringify({
          type: "summary",
          images: total,
          copied: summary?.copied ?? 0,
          skipped: summary?.skipped ?? 0,
          failed: failedCount,
          stopped,
          bytes: summary?.bytes ?? 0,
          elapsedMs: elapsed,
        }));
      } else {
        console.error(line);
      }
      for (const r of failed) {
        console.error(`  failed: ${r.source} -> ${r.destination}: ${r.reason}`);
      }
      for (const l of failures) console.error(`  failed: ${l}`);
    }
    if (failedCount) {
      throw new DtoolError(`${failedCount} of ${total} images failed`, ExitCode.Failure);
    }
  } finally {
    if (debug) debugLine(await requestLine(clients));
    for (const c of clients.values()) await (await c.catch(() => undefined))?.close();
  }
}

/** Lists the images SOURCE names. */
async function listSource(kind: string, source: string, open: OpenSource): Promise<SourceListing> {
  switch (kind) {
    case "docker":
      return await dockerSource(source, open);
    case "yaml": {
      // The YAML reader comes from npm: loaded only for YAML sources.
      const { readSyncConfig } = await import("../sync/config.ts");
      return await yamlSource(await readSyncConfig(source), open);
    }
    case "oci":
      return await ociSource(source.replace(/^oci:/, ""), open);
  }
  throw new UsageError(`--src ${kind}: expected docker, yaml or oci`);
}

/** Opens both ends of every image; one that cannot be opened is a failure naming it. */
async function openTasks(
  items: SyncItem[],
  sourceOptions: (s?: SourceSettings) => EndpointOptions,
  destOptions: EndpointOptions,
  probe: boolean,
): Promise<{ tasks: SyncTask[]; failures: string[] }> {
  const opened = await Promise.all(items.map(async (item) => {
    const shown = item.source.ref.replace(/^docker:\/\//, "");
    const shownDest = item.destination.replace(/^docker:\/\//, "");
    try {
      const [src, dst] = await Promise.all([
        openEndpoint(parseImageReference(item.source.ref), sourceOptions(item.source.settings)),
        openEndpoint(parseImageReference(item.destination), destOptions),
      ]);
      const task: SyncTask = {
        source: shown,
        destination: shownDest,
        src: { resolver: src.resolver, ref: src.ref },
        dst: { resolver: dst.resolver, ref: dst.ref, tag: dst.tag, digest: dst.digest },
        sourceStore: item.sourceStore,
        destinationStore: item.destinationStore,
        blobScope: item.blobScope,
        probe,
      };
      return task;
    } catch (e) {
      // A transport this build lacks is the user's whole command, not one image.
      if (e instanceof UsageError && /not implemented/.test(e.message)) throw e;
      return `${shown} -> ${shownDest}: ${oneLine(e)}`;
    }
  }));
  return {
    tasks: opened.filter((t): t is SyncTask => typeof t !== "string"),
    failures: opened.filter((t): t is string => typeof t === "string"),
  };
}

function sourceFailureLine(f: SourceFailure): string {
  return `${f.image} (registry ${f.registry}): ${redactText(f.reason)}`;
}

const oneLine = (e: unknown) =>
  redactText(e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** HTTP requests of the run, each client counted once. */
async function requestLine(clients: Map<string, Promise<RegistryClient>>): Promise<string> {
  let source = 0;
  let destination = 0;
  for (const [key, c] of clients) {
    const client = await c.catch(() => undefined);
    if (!client) continue;
    if (key.startsWith("source ")) source += client.requests;
    else destination += client.requests;
  }
  return `${source + destination} HTTP requests (source ${source}, destination ${destination})`;
}
