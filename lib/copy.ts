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
  NotFoundError,
  ReferrersIndexError,
  TransientError,
  UsageError,
} from "./errors.ts";
import type { Descriptor, Index, ParsedManifest } from "./manifest.ts";
import { parseManifest } from "./manifest.ts";
import { isNonDistributableMediaType } from "./media_types.ts";
import { choosePlatform, hostPlatform, type Platform } from "./platform.ts";
import type { ProgressEvent, ProgressListener } from "./progress.ts";
import { getManifest, readAll } from "./remotes/manifest_source.ts";
import { retryDelay, sleep } from "./retry.ts";
import {
  canIndexReferrers,
  canListReferrers,
  canMount,
  type Fetcher,
  type Pusher,
  type PushOptions,
  type ReferrersLister,
  type Resolver,
} from "./remotes/remotes.ts";
import { fallbackTag, referrerDescriptor } from "./referrers.ts";

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
  /**
   * What the destination reference names now, when the caller has just
   * asked (`null`: nothing): the copy then skips asking again.
   */
  current?: string | null;
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
  /**
   * Runs each blob's copy (default: runs it). Copies running side by side
   * pass one gate to share one budget of transfers, and to move a blob they
   * all need once.
   */
  blobGate?: (blob: Descriptor, copy: () => Promise<void>) => Promise<void>;
  /** Aborts the copy. */
  signal?: AbortSignal;
  /**
   * Copy the referrers of every manifest copied (signatures, SBOMs…), and
   * theirs in turn, before the destination tag moves.
   */
  referrers?: boolean;
  /** With `referrers`: only referrers of these artifact types, at every depth. */
  referrerArtifactTypes?: string[];
  /** Copy the source tags named after a copied manifest's digest (`sha256-<hex>.sig`…), as is. */
  digestTags?: boolean;
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
  /** Referrers copied (with `referrers`). */
  referrers: number;
  /** Manifests copied under digest tags (with `digestTags`). */
  digestTags: number;
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
    referrers: 0,
    digestTags: 0,
  };
  opts.signal?.throwIfAborted();
  const lister = referringLister(src, opts);
  const pusher = await dst.resolver.pusher(dst.ref);
  const current = dst.current !== undefined
    ? dst.current === root.digest
    : await destinationNames(dst, root.digest);
  if (current && !lister) {
    result.upToDate = true;
    emit({ type: "manifest", digest: root.digest, mediaType: root.mediaType, skipped: true });
    emitDone(emit, result, started);
    return result;
  }
  const copied = [...plan.children, root];
  const extras = lister
    ? await discoverExtras(lister, src.ref, copied.map((m) => m.digest), readManifest, opts, emit)
    : [];
  const ctx: CopyContext = { fetcher, pusher, opts, result, emit };
  if (current) {
    result.upToDate = true;
    emit({ type: "manifest", digest: root.digest, mediaType: root.mediaType, skipped: true });
  } else {
    const images = copied.filter((m) => m.kind === "manifest");
    const blobs = uniqueBlobs(images);
    emit({
      type: "plan",
      blobs: blobs.length,
      bytes: blobs.reduce((n, b) => n + b.size, 0),
      manifests: plan.children.length + 1,
    });
    await copyBlobs(ctx, blobs);
    for (const child of plan.children) {
      await pushManifest(pusher, child, { signal: opts.signal }, emit);
    }
    // What refers to the root needs it there first; the tag still moves last.
    if (extras.length) await pushManifest(pusher, root, { signal: opts.signal }, emit);
  }
  await copyExtras(ctx, extras);
  if (!current) {
    await pushManifest(pusher, root, { tag: dst.tag, root: true, signal: opts.signal }, emit);
  }
  emitDone(emit, result, started);
  return result;
}

/** What one copy moves and counts, handed to its helpers. */
interface CopyContext {
  fetcher: Fetcher;
  pusher: Pusher;
  opts: CopyOptions;
  result: CopyResult;
  emit: ProgressListener;
}

async function copyBlobs(ctx: CopyContext, blobs: Descriptor[]): Promise<void> {
  const { fetcher, pusher, opts, result, emit } = ctx;
  await runPool(
    blobs,
    opts.jobs ?? DEFAULT_JOBS,
    opts.signal,
    (blob, signal) => {
      const copy = () => copyBlob(blob, fetcher, pusher, { ...opts, signal }, result, emit);
      return opts.blobGate ? opts.blobGate(blob, copy) : copy();
    },
  );
}

/** A manifest that travels with the image: a referrer, or one under a digest tag. */
interface Extra {
  manifest: ParsedManifest;
  /** For an index: its manifests, children first. */
  children: ParsedManifest[];
  /** The tag it goes under (a digest tag), if any. */
  tag?: string;
  /** For a referrer: the digest it refers to (pushed so the destination lists it by that). */
  subject?: string;
}

/** The source's referrers lister when referrers or digest tags are asked for. */
function referringLister(src: CopyEndpoint, opts: CopyOptions): ReferrersLister | undefined {
  if (!opts.referrers && !opts.digestTags) return undefined;
  if (!canListReferrers(src.resolver)) {
    throw new UsageError(
      `${src.ref || "the source"} cannot hold referrers or digest tags; copy without them`,
    );
  }
  return src.resolver;
}

/**
 * Referrers of the copied manifests, and of those referrers in turn (each
 * once, parents before what refers to them), then the digest tags of all
 * of them. A referrers index that is not one is a warning, not a failure.
 */
async function discoverExtras(
  lister: ReferrersLister,
  ref: string,
  subjects: string[],
  readManifest: ReadManifest,
  opts: CopyOptions,
  emit: ProgressListener,
): Promise<Extra[]> {
  const seen = new Set(subjects);
  const out: Extra[] = [];
  const queue = opts.referrers ? [...subjects] : [];
  while (queue.length > 0) {
    const subject = queue.shift()!;
    let found: Descriptor[];
    try {
      found = await lister.referrers(ref, subject, {
        artifactTypes: opts.referrerArtifactTypes,
      });
    } catch (e) {
      if (!(e instanceof ReferrersIndexError)) throw e;
      emit({ type: "warning", message: e.message });
      continue;
    }
    for (const d of found) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      const manifest = await readManifest(d);
      out.push({ manifest, children: await allChildren(manifest, readManifest), subject });
      queue.push(d.digest);
    }
  }
  if (!opts.digestTags) return out;
  const fallbacks = new Set([...seen].map(fallbackTag));
  for (const { tag, descriptor } of await lister.digestTags(ref, [...seen])) {
    // An index of referrers under its fallback tag is kept by the referrer pushes themselves.
    if (opts.referrers && fallbacks.has(tag)) continue;
    const manifest = await readManifest(descriptor);
    out.push({
      manifest,
      children: await allChildren(manifest, readManifest),
      tag,
    });
  }
  return out;
}

/**
 * Copies referrers and digest-tagged manifests, each with its blobs and
 * children first; a subject's referrers are then recorded together where
 * the destination records them after the push (a registry's fallback index).
 */
async function copyExtras(ctx: CopyContext, extras: Extra[]): Promise<void> {
  const bySubject = new Map<string, Descriptor[]>();
  for (const extra of extras) {
    await copyExtra(ctx, extra);
    if (extra.subject === undefined) continue;
    const list = bySubject.get(extra.subject) ?? [];
    list.push(referrerDescriptor(extra.manifest));
    bySubject.set(extra.subject, list);
  }
  const pusher = ctx.pusher;
  if (!canIndexReferrers(pusher)) return;
  // Each subject has its own index (tag): their updates, each with its settling pause, run side
  // by side, within the --jobs bound.
  const jobs = ctx.opts.jobs ?? DEFAULT_JOBS;
  await runPool([...bySubject], jobs, ctx.opts.signal, async ([subject, referrers]) => {
    try {
      await pusher.indexReferrers(subject, referrers);
    } catch (e) {
      if (!(e instanceof ReferrersIndexError)) throw e;
      ctx.emit({ type: "warning", message: e.message });
    }
  });
}

/** Copies one referrer or digest-tagged manifest: its blobs, its children, then itself. */
async function copyExtra(ctx: CopyContext, extra: Extra): Promise<void> {
  const { pusher, opts, emit } = ctx;
  await copyBlobs(ctx, uniqueBlobs([...extra.children, extra.manifest]));
  for (const child of extra.children) {
    await pushManifest(pusher, child, { signal: opts.signal }, emit);
  }
  await pushManifest(pusher, extra.manifest, {
    signal: opts.signal,
    tag: extra.tag,
    referrer: extra.subject !== undefined,
    // Pushed again even when present: the destination may not list it by its subject yet.
    root: true,
  }, emit);
  if (extra.subject !== undefined) ctx.result.referrers++;
  else ctx.result.digestTags++;
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
  // A destination named by neither (a layout's unnamed entry) is written afresh.
  if (dst.tag === undefined && dst.digest === undefined) return false;
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
        // The error keeps its class, status and registry codes for library callers; only its
        // message gains the blob or manifest it concerns.
        if (hooks.label && e instanceof Error && !e.message.includes(what)) {
          e.message = `${hooks.label}: ${e.message}`;
        }
        throw e;
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

async function copyBlob(
  blob: Descriptor,
  fetcher: Fetcher,
  pusher: Pusher,
  opts: CopyOptions,
  result: CopyResult,
  emit: ProgressListener,
): Promise<void> {
  if (await pusher.exists(blob, { signal: opts.signal })) {
    result.skipped++;
    emit({ type: "blob-skip", digest: blob.digest, size: blob.size, reason: "exists" });
    return;
  }
  // The pusher knows whether it can take the blob from where the fetcher reads it.
  if (canMount(pusher) && await pusher.mount(blob, fetcher, { signal: opts.signal })) {
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
    // the pusher unread (registry to registry); with one, they are counted on their way.
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
      // Whatever the upload did not read is let go (a file, a source connection).
      if (!body.locked) await body.cancel().catch(() => {});
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
  options: PushOptions,
  emit: ProgressListener,
): Promise<void> {
  const { signal, tag } = options;
  signal?.throwIfAborted();
  const desc: Descriptor = options.referrer
    ? referrerDescriptor(m)
    : { mediaType: m.mediaType, digest: m.digest, size: m.raw.byteLength };
  if (!options.root && await pusher.exists(desc, { signal })) {
    emit({ type: "manifest", digest: m.digest, mediaType: m.mediaType, skipped: true });
    return;
  }
  signal?.throwIfAborted(); // the last moment a copy can be stopped before the tag moves
  const writer = await pusher.push(desc, options);
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
