/**
 * The copy engine: walk the source graph, choose what to copy, move every
 * blob (skipping what the destination has, mounting what it can), verify
 * each by digest, then write child manifests and, last, the root under the
 * destination tag. A failure anywhere leaves the destination tag untouched.
 *
 * The engine knows only {@linkcode Resolver}, {@linkcode Fetcher} and
 * {@linkcode Pusher}; it never speaks HTTP.
 *
 * @module
 */
import { computeDigest } from "./digest.ts";
import { redactText } from "./redact.ts";
import {
  DigestMismatchError,
  DtoolError,
  NotFoundError,
  TransientError,
  UsageError,
} from "./errors.ts";
import type { Descriptor, Index, ParsedManifest } from "./manifest.ts";
import { parseManifest } from "./manifest.ts";
import { isNonDistributableMediaType } from "./media_types.ts";
import { formatPlatform, hostPlatform, type Platform, platformMatcher } from "./platform.ts";
import type { ProgressEvent, ProgressListener } from "./progress.ts";
import { getManifest, readAll } from "./remotes/manifest_source.ts";
import { retryDelay, sleep } from "./retry.ts";
import type { Fetcher, Pusher, Resolver } from "./remotes/remotes.ts";

/** One end of a copy. */
export interface CopyEndpoint {
  /** Resolves `ref` and serves its fetcher or pusher. */
  resolver: Resolver;
  /** The reference in the resolver's grammar, e.g. `localhost:5000/app:1`. */
  ref: string;
}

/** The destination end: where the root goes. */
export interface CopyDestination extends CopyEndpoint {
  /** Tag to write the root under; without it the root is written by digest. */
  tag?: string;
  /** When set, the copied root must have this digest. */
  digest?: string;
}

/** Options of {@linkcode copyImage}. */
export interface CopyOptions {
  /** Copy every image of an index, and the index unchanged. */
  all?: boolean;
  /** Platforms to choose from an index (default: the host's). */
  platforms?: Platform[];
  /** Blobs moved at once, and so requests in flight to each registry (default 12). */
  jobs?: number;
  /** Times one blob transfer is tried again after a failure (default 3). */
  retryTimes?: number;
  /** First delay before a blob is tried again, doubled each time (default 250 ms). */
  retryDelayMs?: number;
  /** Wait `retryDelayMs` before every retry instead of backing off (skopeo's --retry-delay). */
  fixedRetryDelay?: boolean;
  /** Receives progress events. */
  onProgress?: ProgressListener;
  /** Aborts the copy. */
  signal?: AbortSignal;
}

/** What a copy did. */
export interface CopyResult {
  /** Digest of the manifest or index the destination now names. */
  digest: string;
  /** Its media type. */
  mediaType: string;
  /** True when the root was rewritten (an index of several chosen platforms). */
  rewritten: boolean;
  /** True when the destination already named this digest and nothing was done. */
  upToDate: boolean;
  /** Bytes transferred. */
  bytes: number;
  /** Blobs transferred. */
  transferred: number;
  /** Blobs the destination already had. */
  skipped: number;
  /** Blobs mounted from another repository. */
  mounted: number;
  /** Blob transfers tried again after a failure. */
  retries: number;
}

/** A manifest to write, and the images it stands for. */
interface Planned {
  /** Child manifests to write by digest first, in order. */
  children: ParsedManifest[];
  /** The root to write under the tag. */
  root: ParsedManifest;
  /** True when the root is not the source's bytes. */
  rewritten: boolean;
}

/**
 * Blobs in flight; each has at most one request open to each registry, so
 * this is also the limit on a registry's requests in flight. Measured on 2
 * cores (median of 3): 8 x 64 MiB 3.15 s at 6, 3.10 s at 12, 3.20 s at 16;
 * 60 x 10 KiB 1.08 s at 6, 0.97 s at 12, 0.93 s at 16.
 */
const DEFAULT_JOBS = 12;

/**
 * Copies an image, or an index and its images, from one place to another.
 *
 * @example
 * ```ts
 * import { copyImage, DockerResolver } from "../mod.ts";
 * const resolver = new DockerResolver({});
 * // const result = await copyImage(
 * //   { resolver, ref: "localhost:5000/app:1" },
 * //   { resolver, ref: "localhost:5001/app:1", tag: "1" },
 * //   { all: true },
 * // );
 * // console.log(result.digest);
 * ```
 */
export async function copyImage(
  src: CopyEndpoint,
  dst: CopyDestination,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  const started = performance.now();
  const emit = (e: ProgressEvent) => opts.onProgress?.(e);
  opts.signal?.throwIfAborted();
  // One GET names and reads the source root where the resolver can (HEAD + GET otherwise).
  const source = await retrying(src.ref, () => getManifest(src.resolver, src.ref), opts, emit);
  emit({ type: "resolved", source: src.ref, digest: source.digest, mediaType: source.mediaType });
  const fetcher = await src.resolver.fetcher(src.ref);
  // Manifests are small: read whole, and retried like blobs when their bytes are wrong.
  const readManifest: ReadManifest = async (d) => {
    const read = async () => readAll(await fetcher.fetch(d, { signal: opts.signal }));
    const raw = await retrying(d.digest, read, opts, emit, { label: `manifest ${d.digest}` });
    return parseManifest(raw, d.mediaType);
  };
  const plan = await planCopy(source, readManifest, opts, emit);
  const root = plan.root;
  if (dst.digest && dst.digest !== root.digest) {
    throw new UsageError(
      `destination digest ${dst.digest} does not match the copied manifest ${root.digest}`,
    );
  }
  const result: CopyResult = {
    digest: root.digest,
    mediaType: root.mediaType,
    rewritten: plan.rewritten,
    upToDate: false,
    bytes: 0,
    transferred: 0,
    skipped: 0,
    mounted: 0,
    retries: 0,
  };
  opts.signal?.throwIfAborted();
  const pusher = await dst.resolver.pusher(dst.ref);
  if (await destinationNames(dst, root.digest)) {
    result.upToDate = true;
    emit({ type: "manifest", digest: root.digest, mediaType: root.mediaType, skipped: true });
    emitDone(emit, result, started);
    return result;
  }
  const images = [...plan.children, root].filter((m) => m.kind === "manifest");
  const blobs = uniqueBlobs(images);
  emit({
    type: "plan",
    blobs: blobs.length,
    bytes: blobs.reduce((n, b) => n + b.size, 0),
    manifests: plan.children.length + 1,
  });
  const mountFrom = mountSource(fetcher, pusher);
  await runPool(
    blobs,
    opts.jobs ?? DEFAULT_JOBS,
    opts.signal,
    (blob, signal) => copyBlob(blob, fetcher, pusher, mountFrom, { ...opts, signal }, result, emit),
  );
  for (const child of plan.children) {
    await pushManifest(pusher, child, undefined, emit, opts.signal);
  }
  await pushManifest(pusher, root, dst.tag, emit, opts.signal);
  emitDone(emit, result, started);
  return result;
}

function emitDone(emit: ProgressListener, r: CopyResult, started: number) {
  emit({
    type: "done",
    digest: r.digest,
    bytes: r.bytes,
    transferred: r.transferred,
    skipped: r.skipped,
    mounted: r.mounted,
    elapsedMs: Math.round(performance.now() - started),
  });
}

/** True when the destination tag (or digest) already names `digest`: one HEAD. */
async function destinationNames(dst: CopyDestination, digest: string): Promise<boolean> {
  try {
    const { descriptor } = await dst.resolver.resolve(dst.ref);
    return descriptor.digest === digest;
  } catch (e) {
    if (e instanceof NotFoundError) return false;
    throw e;
  }
}

/** Reads and parses the manifest a descriptor names. */
type ReadManifest = (desc: Descriptor) => Promise<ParsedManifest>;

/**
 * Runs `fn` again after retryable failures, waiting between tries, and
 * emits a `retry` event naming `what` each time. The final error is
 * prefixed with `label` unless it already names `what`.
 */
async function retrying<T>(
  what: string,
  fn: () => Promise<T>,
  opts: CopyOptions,
  emit: ProgressListener,
  hooks: { label?: string; onRetry?: () => void } = {},
): Promise<T> {
  const tries = (opts.retryTimes ?? 3) + 1;
  const delay = { baseMs: opts.retryDelayMs ?? 250, fixed: opts.fixedRetryDelay };
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (opts.signal?.aborted || attempt >= tries || !isRetryable(e)) {
        if (!hooks.label) throw e;
        const reason = reasonOf(e);
        const message = reason.includes(what) ? reason : `${hooks.label}: ${reason}`;
        throw new DtoolError(message, (e as DtoolError).exitCode, { cause: e });
      }
      hooks.onRetry?.();
      emit({ type: "retry", digest: what, attempt, reason: reasonOf(e) });
      await sleep(retryDelay(delay, attempt - 1), opts.signal);
    }
  }
}

/** Decides which manifests to copy from the source root. */
async function planCopy(
  source: ParsedManifest,
  readManifest: ReadManifest,
  opts: CopyOptions,
  emit: ProgressListener,
): Promise<Planned> {
  if (source.kind === "manifest") return { children: [], root: source, rewritten: false };
  if (opts.all) {
    return { children: await allChildren(source, readManifest), root: source, rewritten: false };
  }
  const wanted = opts.platforms?.length ? opts.platforms : [hostPlatform()];
  // A platform the user named must be that platform; the host default may fall back.
  const strict = Boolean(opts.platforms?.length);
  const chosen = wanted.map((p) => choosePlatform(source.index, p, { strict }));
  const unique = [...new Map(chosen.map((d) => [d.digest, d])).values()];
  if (wanted.length === 1) {
    return { children: [], root: await readManifest(unique[0]), rewritten: false };
  }
  const children = await Promise.all(unique.map(readManifest));
  const index: Index = { ...source.index, manifests: unique };
  const raw = new TextEncoder().encode(JSON.stringify(index));
  const root = parseManifest(raw, source.mediaType);
  emit({
    type: "warning",
    message: `copying ${unique.length} of ${source.index.manifests.length} platforms: ` +
      `the destination index is new (${computeDigest(raw)}), not the source's ${source.digest}`,
  });
  return { children, root, rewritten: true };
}

/** Every manifest below an index, depth first, children before parents. */
async function allChildren(
  index: ParsedManifest,
  readManifest: ReadManifest,
): Promise<ParsedManifest[]> {
  if (index.kind !== "index") return [];
  const out: ParsedManifest[] = [];
  const fetched = await Promise.all(index.index.manifests.map(readManifest));
  for (const child of fetched) {
    out.push(...await allChildren(child, readManifest), child);
  }
  return out;
}

/**
 * The index entry that best serves a platform, by containerd's rules:
 * with `strict` (a platform the user named) only that platform, its
 * normalised equivalents included; without it (the host default) also what
 * the host can run (arm64 → arm/v8 → arm/v7…, amd64 → 386).
 *
 * @example
 * ```ts
 * import { choosePlatform } from "./copy.ts";
 * const d = choosePlatform({
 *   schemaVersion: 2,
 *   manifests: [{
 *     mediaType: "application/vnd.oci.image.manifest.v1+json",
 *     digest: "sha256:" + "a".repeat(64),
 *     size: 1,
 *     platform: { os: "linux", architecture: "arm", variant: "v7" },
 *   }],
 * }, { os: "linux", architecture: "arm", variant: "v8" });
 * console.log(d.platform?.variant); // "v7"
 * ```
 */
export function choosePlatform(
  index: Index,
  wanted: Platform,
  options: { strict?: boolean } = {},
): Descriptor {
  const matcher = platformMatcher(wanted, options);
  const candidates = index.manifests.filter((d) => d.platform && matcher.match(d.platform));
  candidates.sort((a, b) =>
    matcher.less(a.platform!, b.platform!) ? -1 : matcher.less(b.platform!, a.platform!) ? 1 : 0
  );
  if (candidates.length === 0) {
    const available = index.manifests.filter((d) => d.platform).map((d) =>
      formatPlatform(d.platform!)
    );
    throw new NotFoundError(
      `no image for platform ${formatPlatform(wanted)} (available: ${
        available.join(", ") || "none"
      })`,
    );
  }
  return candidates[0];
}

/** Distinct blobs of the images, without non-distributable layers that live elsewhere. */
function uniqueBlobs(images: ParsedManifest[]): Descriptor[] {
  const seen = new Map<string, Descriptor>();
  for (const m of images) {
    if (m.kind !== "manifest") continue;
    for (const d of [m.manifest.config, ...m.manifest.layers]) {
      if (isNonDistributableMediaType(d.mediaType) && d.urls?.length) continue;
      if (!seen.has(d.digest)) seen.set(d.digest, d);
    }
  }
  return [...seen.values()];
}

/** The repository a blob can be mounted from, when source and destination share a registry. */
function mountSource(fetcher: Fetcher, pusher: Pusher): string | undefined {
  if (!pusher.mount || !fetcher.host || !fetcher.repository || fetcher.host !== pusher.host) return;
  return fetcher.repository !== pusher.repository ? fetcher.repository : undefined;
}

async function copyBlob(
  blob: Descriptor,
  fetcher: Fetcher,
  pusher: Pusher,
  mountFrom: string | undefined,
  opts: CopyOptions,
  result: CopyResult,
  emit: ProgressListener,
): Promise<void> {
  if (await pusher.exists(blob, { signal: opts.signal })) {
    result.skipped++;
    emit({ type: "blob-skip", digest: blob.digest, size: blob.size, reason: "exists" });
    return;
  }
  if (mountFrom && await pusher.mount!(blob, mountFrom)) {
    result.mounted++;
    emit({ type: "blob-skip", digest: blob.digest, size: blob.size, reason: "mounted" });
    return;
  }
  let attempt = 0;
  await retrying(
    blob.digest,
    async () => {
      emit({ type: "blob-start", digest: blob.digest, size: blob.size, attempt: ++attempt });
      await transfer(blob, fetcher, pusher, opts.signal, emit, opts.onProgress !== undefined);
    },
    opts,
    emit,
    { label: `blob ${blob.digest}`, onRetry: () => result.retries++ },
  );
  result.transferred++;
  result.bytes += blob.size;
  emit({ type: "blob-done", digest: blob.digest, size: blob.size });
}

/** An error's message, one line, with any URL's secrets masked (signed storage URLs). */
function reasonOf(e: unknown): string {
  return redactText(e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");
}

/**
 * Worth a whole new try: wrong bytes, or a failure no lower layer retried.
 * Requests the HTTP layer already retried are not tried again here, or a
 * dead registry would cost four times four attempts.
 */
function isRetryable(e: unknown): boolean {
  return e instanceof DigestMismatchError || e instanceof TransientError;
}

async function transfer(
  blob: Descriptor,
  fetcher: Fetcher,
  pusher: Pusher,
  signal: AbortSignal | undefined,
  emit: ProgressListener,
  wantsBytes: boolean,
): Promise<void> {
  let last = 0;
  let sourceError: unknown;
  // Progress and download failures are reported by the fetcher's own stream stage: a stage of
  // ours would cost CPU on every chunk of every blob.
  const body = await fetcher.fetch(blob, {
    signal,
    // Without a listener no byte counts are asked for, which lets a fetcher hand its bytes to
    // the pusher unread (registry to registry).
    onProgress: wantsBytes ? onProgress : undefined,
    onError(e) {
      sourceError = e;
    },
  });
  function onProgress(bytes: number) {
    const now = performance.now();
    if (now - last > 200) {
      last = now;
      emit({ type: "blob-progress", digest: blob.digest, bytes, size: blob.size });
    }
  }
  let writer;
  try {
    writer = await pusher.push(blob, { signal });
  } catch (e) {
    await body.cancel().catch(() => {});
    throw e;
  }
  if (writer.consume) {
    try {
      await writer.consume(body);
    } catch (e) {
      throw sourceError ?? e; // the download's own failure says more than the upload's
    }
    return;
  }
  try {
    await body.pipeTo(writer.writable, { signal });
  } catch (e) {
    const upload = await writer.commit().then(() => undefined, (c: unknown) => c);
    // The download's own failure says what went wrong; else the upload's, when it has one.
    if (sourceError !== undefined) throw sourceError;
    throw upload ?? e;
  }
  await writer.commit();
}

async function pushManifest(
  pusher: Pusher,
  m: ParsedManifest,
  tag: string | undefined,
  emit: ProgressListener,
  signal: AbortSignal | undefined,
): Promise<void> {
  signal?.throwIfAborted();
  const desc: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.raw.byteLength };
  if (tag === undefined && await pusher.exists(desc, { signal })) {
    emit({ type: "manifest", digest: m.digest, mediaType: m.mediaType, skipped: true });
    return;
  }
  signal?.throwIfAborted(); // the last moment a copy can be stopped before the tag moves
  const writer = await pusher.push(desc, { tag, signal });
  await new Blob([m.raw as BufferSource]).stream().pipeTo(writer.writable);
  await writer.commit();
  emit({ type: "manifest", digest: m.digest, mediaType: m.mediaType, tag });
}

/** Runs `work` over `items`, at most `limit` at once; the first failure aborts the rest. */
async function runPool<T>(
  items: T[],
  limit: number,
  outer: AbortSignal | undefined,
  work: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  outer?.addEventListener("abort", onAbort);
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined && !controller.signal.aborted) {
      const item = items[next++];
      try {
        await work(item, controller.signal);
      } catch (e) {
        if (failure === undefined) failure = e;
        controller.abort(e);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  } finally {
    outer?.removeEventListener("abort", onAbort);
  }
  if (failure !== undefined) throw failure;
  outer?.throwIfAborted();
}
