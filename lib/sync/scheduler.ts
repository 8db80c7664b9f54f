/**
 * Runs a sync: many copies side by side, each image the copy engine's
 * ({@linkcode copyImage}: blobs, then child manifests, then the tag last),
 * sharing one budget of `jobs` transfers per store, and moving a blob that
 * several images need into one repository (or layout) once per run. An
 * image whose destination already names the source digest costs one
 * resolve (a HEAD) on each side.
 *
 * @module
 */
import { type CopyDestination, type CopyEndpoint, copyImage, type CopyOptions } from "../copy.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import type { Descriptor, ParsedManifest } from "../manifest.ts";
import { parseManifest } from "../manifest.ts";
import { isNonDistributableMediaType } from "../media_types.ts";
import { choosePlatform, hostPlatform } from "../platform.ts";
import type { ProgressEvent } from "../progress.ts";
import { redactText } from "../redact.ts";
import { getManifest, readAll } from "../remotes/manifest_source.ts";
import { Budgets } from "./limiter.ts";

/** One image to sync, with both ends opened. */
export interface SyncTask {
  /** The source, as shown to the user (`localhost:5000/a/b:1`). */
  source: string;
  /** The destination, as shown to the user. */
  destination: string;
  /** Where the image is read. */
  src: CopyEndpoint;
  /** Where it is written, and under which tag or digest. */
  dst: CopyDestination;
  /** Requests to one store share one budget: `docker://host`, `oci:DIR`. */
  sourceStore: string;
  /** The destination's store, likewise. */
  destinationStore: string;
  /** Where the destination keeps blobs (a repository, a layout): a blob moves there once. */
  blobScope: string;
  /** With `dryRun`: the destination may be asked which blobs it has (asking creates no layout). */
  probe?: boolean;
}

/** What happened to one image. */
export type SyncStatus = "copied" | "skipped" | "failed" | "stopped" | "planned";

/** What a dry run would copy for one image. */
export interface SyncImagePlan {
  /** Manifests (and indexes) that would be written. */
  manifests: number;
  /** Distinct blobs of the image. */
  blobs: number;
  /** Their size. */
  bytes: number;
  /** Of them, blobs the destination has already (when it could be asked). */
  present?: number;
  /** Their size. */
  presentBytes?: number;
}

/** The outcome of one image. */
export interface SyncImageResult {
  /** Source, as shown. */
  source: string;
  /** Destination, as shown. */
  destination: string;
  /** `copied`, `skipped` (already current), `failed`, `stopped` (by another's failure) or `planned` (dry run). */
  status: SyncStatus;
  /** The digest the destination names (or would name). */
  digest?: string;
  /** Bytes moved for this image. */
  bytes: number;
  /** Milliseconds it took. */
  elapsedMs: number;
  /** Why it failed, one line. */
  reason?: string;
  /** With `dryRun`: what would be copied. */
  plan?: SyncImagePlan;
}

/** Something that happened during a sync. */
export type SyncEvent =
  | {
    /** An image started. */
    type: "image-start";
    /** Source, as shown. */
    source: string;
    /** Destination, as shown. */
    destination: string;
  }
  | ({
    /** An image finished (copied, skipped, failed, stopped or planned). */
    type: "image-done";
  } & SyncImageResult)
  | {
    /** A progress event of one image's copy. */
    type: "copy";
    /** Source, as shown. */
    source: string;
    /** The copy engine's event. */
    event: ProgressEvent;
  };

/** Options of {@linkcode syncImages}. */
export interface SyncOptions extends
  Pick<
    CopyOptions,
    | "all"
    | "platforms"
    | "retryTimes"
    | "retryDelayMs"
    | "fixedRetryDelay"
    | "signal"
    | "referrers"
    | "referrerArtifactTypes"
    | "digestTags"
  > {
  /** Transfers (and requests) in flight to each store, shared by all images (default 12). */
  jobs?: number;
  /** Go on after an image fails (default: the first failure stops the sync). */
  keepGoing?: boolean;
  /** Say what would happen; write nothing. */
  dryRun?: boolean;
  /** Receives sync events. */
  onEvent?: (event: SyncEvent) => void;
}

/** The outcome of a sync. */
export interface SyncSummary {
  /** Each image tried, in plan order. */
  images: SyncImageResult[];
  /** Images copied. */
  copied: number;
  /** Images already current. */
  skipped: number;
  /** Images that failed. */
  failed: number;
  /** Images stopped or never started after a failure. */
  stopped: number;
  /** Images a dry run would copy. */
  planned: number;
  /** Bytes moved. */
  bytes: number;
  /** Milliseconds the sync took. */
  elapsedMs: number;
}

const DEFAULT_JOBS = 12;

/**
 * Syncs images: each copied unless its destination is current, many at
 * once within one budget of `jobs` per store.
 *
 * @example
 * ```ts ignore
 * import { DockerResolver, syncImages } from "../../mod.ts";
 * const src = new DockerResolver({});
 * const dst = new DockerResolver({ forPush: true });
 * const summary = await syncImages([{
 *   source: "localhost:5000/a:1", destination: "localhost:5001/a:1",
 *   src: { resolver: src, ref: "localhost:5000/a:1" },
 *   dst: { resolver: dst, ref: "localhost:5001/a:1", tag: "1" },
 *   sourceStore: "docker://localhost:5000", destinationStore: "docker://localhost:5001",
 *   blobScope: "docker://localhost:5001/a",
 * }], { keepGoing: true });
 * console.log(summary.copied, summary.failed);
 * ```
 */
export async function syncImages(tasks: SyncTask[], opts: SyncOptions = {}): Promise<SyncSummary> {
  const started = performance.now();
  const jobs = opts.jobs ?? DEFAULT_JOBS;
  const budgets = new Budgets(jobs);
  const committed = new Set<string>();
  const inflight = new Map<string, Promise<void>>();
  const controller = new AbortController();
  const onAbort = () => controller.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener("abort", onAbort);
  const emit = (e: SyncEvent) => opts.onEvent?.(e);

  /** Blobs of one destination scope move once: later images wait for the first, then skip. */
  const gate = (task: SyncTask) => async (blob: Descriptor, copy: () => Promise<void>) => {
    const key = `${task.blobScope} ${blob.digest}`;
    for (let prior = inflight.get(key); prior; prior = inflight.get(key)) {
      await prior.catch(() => {});
    }
    if (committed.has(key)) return;
    const p = budgets.run([task.sourceStore, task.destinationStore], copy);
    inflight.set(key, p);
    try {
      await p;
      committed.add(key);
    } finally {
      inflight.delete(key);
    }
  };

  const one = async (task: SyncTask): Promise<SyncImageResult> => {
    const t0 = performance.now();
    const base = { source: task.source, destination: task.destination, bytes: 0 };
    const done = (r: Omit<SyncImageResult, "elapsedMs">): SyncImageResult => {
      const result = { ...r, elapsedMs: Math.round(performance.now() - t0) };
      emit({ type: "image-done", ...result });
      return result;
    };
    emit({ type: "image-start", source: task.source, destination: task.destination });
    try {
      const signal = controller.signal;
      const [src, current] = await Promise.all([
        budgets.run([task.sourceStore], () => task.src.resolver.resolve(task.src.ref)),
        budgets.run([task.destinationStore], () => currentDigest(task.dst)),
      ]);
      signal.throwIfAborted();
      const digest = src.descriptor.digest;
      // With referrers, a current image may still have new referrers: the copy checks those.
      const referring = opts.referrers || opts.digestTags;
      if (current === digest && !referring) return done({ ...base, status: "skipped", digest });
      if (opts.dryRun) {
        const plan = await dryRunPlan(task, opts);
        return done({ ...base, status: "planned", digest: plan.digest, plan: plan.plan });
      }
      const r = await copyImage(task.src, { ...task.dst, current: current ?? null }, {
        all: opts.all,
        platforms: opts.platforms,
        jobs,
        retryTimes: opts.retryTimes,
        retryDelayMs: opts.retryDelayMs,
        fixedRetryDelay: opts.fixedRetryDelay,
        referrers: opts.referrers,
        referrerArtifactTypes: opts.referrerArtifactTypes,
        digestTags: opts.digestTags,
        signal,
        blobGate: gate(task),
        onProgress: (event) => emit({ type: "copy", source: task.source, event }),
      });
      return done({
        ...base,
        status: r.upToDate ? "skipped" : "copied",
        digest: r.digest,
        bytes: r.bytes,
      });
    } catch (e) {
      if (controller.signal.aborted) return done({ ...base, status: "stopped" });
      return done({ ...base, status: "failed", reason: reasonOf(e) });
    }
  };

  const results: (SyncImageResult | undefined)[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length && !controller.signal.aborted) {
      const i = next++;
      const r = await one(tasks[i]);
      results[i] = r;
      if (r.status === "failed" && !opts.keepGoing) controller.abort(new Error(r.reason));
    }
  };
  try {
    // More images than transfers in flight: an image spends much of its time on manifests.
    const imagesAtOnce = Math.min(tasks.length, jobs * 2);
    await Promise.all(Array.from({ length: imagesAtOnce }, worker));
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
  }
  const images = results.filter((r): r is SyncImageResult => r !== undefined);
  const count = (s: SyncStatus) => images.filter((r) => r.status === s).length;
  return {
    images,
    copied: count("copied"),
    skipped: count("skipped"),
    failed: count("failed"),
    stopped: count("stopped") + (tasks.length - images.length),
    planned: count("planned"),
    bytes: images.reduce((n, r) => n + r.bytes, 0),
    elapsedMs: Math.round(performance.now() - started),
  };
}

/** The digest the destination tag (or digest) names now; undefined when it names none. */
async function currentDigest(dst: CopyDestination): Promise<string | undefined> {
  // A destination named by neither tag nor digest (a dir: folder) names its one image.
  const unnamed = dst.tag === undefined && dst.digest === undefined;
  try {
    return (await dst.resolver.resolve(dst.ref)).descriptor.digest;
  } catch (e) {
    if (e instanceof NotFoundError || (unnamed && e instanceof UsageError)) return undefined;
    throw e;
  }
}

/** What a copy would move: the images chosen as `copy` chooses them, and their blobs. */
async function dryRunPlan(
  task: SyncTask,
  opts: SyncOptions,
): Promise<{ digest: string; plan: SyncImagePlan }> {
  const root = await getManifest(task.src.resolver, task.src.ref);
  const fetcher = await task.src.resolver.fetcher(task.src.ref);
  const read = async (d: Descriptor) =>
    parseManifest(await readAll(await fetcher.fetch(d)), d.mediaType);
  let images: ParsedManifest[] = [root];
  let manifests = 1;
  if (root.kind === "index") {
    const wanted = opts.all
      ? root.index.manifests
      : (opts.platforms?.length ? opts.platforms : [hostPlatform()]).map((p) =>
        choosePlatform(root.index, p, { strict: Boolean(opts.platforms?.length) })
      );
    images = await Promise.all(wanted.map(read));
    manifests = images.length + (opts.all || images.length > 1 ? 1 : 0);
  }
  const blobs = new Map<string, Descriptor>();
  for (const m of images) {
    if (m.kind !== "manifest") continue;
    for (const d of [m.manifest.config, ...m.manifest.layers]) {
      if (!(isNonDistributableMediaType(d.mediaType) && d.urls?.length)) blobs.set(d.digest, d);
    }
  }
  const all = [...blobs.values()];
  const plan: SyncImagePlan = {
    manifests,
    blobs: all.length,
    bytes: all.reduce((n, d) => n + d.size, 0),
  };
  if (task.probe) {
    const pusher = await task.dst.resolver.pusher(task.dst.ref);
    const present = (await Promise.all(all.map((d) => pusher.exists(d)))).map((has, i) =>
      has ? all[i] : undefined
    ).filter((d): d is Descriptor => d !== undefined);
    plan.present = present.length;
    plan.presentBytes = present.reduce((n, d) => n + d.size, 0);
  }
  return { digest: root.digest, plan };
}

const reasonOf = (e: unknown) =>
  redactText(e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");
