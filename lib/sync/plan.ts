/**
 * A sync plan: each source image paired with where it goes, named by the
 * naming rule, cut down to this worker's shard, with the keys the scheduler
 * shares budgets and blob transfers by.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import {
  type DestinationName,
  destinationName,
  nameWithTag,
  type NamingOptions,
} from "./naming.ts";
import { inShard, type Shard } from "./shard.ts";
import type { SourceImage } from "./sources.ts";

/** Where a sync writes: a registry (`host[/prefix]`), one OCI layout, or `dir:` folders. */
export interface SyncDestination {
  /** `docker`: DESTINATION is `host[/prefix]`; `oci`: one layout; `dir`: a folder of folders. */
  kind: "docker" | "oci" | "dir";
  /** The DESTINATION argument. */
  location: string;
}

/** Options of {@linkcode planSync}. */
export interface PlanOptions extends NamingOptions {
  /** Where images go. */
  destination: SyncDestination;
  /** Only this worker's share of the images. */
  shard?: Shard;
  /**
   * Referrers or digest tags travel with each image: source tags named after
   * a digest (referrers indexes, cosign's `sha256-<hex>.sig`…) are left out,
   * or two images would write the same tag at once.
   */
  withSubjects?: boolean;
}

/** A tag named after a digest: `sha256-<hex>` and `sha256-<hex>.sig`… */
const DIGEST_NAMED_TAG = /^sha(256|512)-[0-9a-f]{64}/;

/** One image of a plan. */
export interface SyncItem {
  /** The source image. */
  source: SourceImage;
  /** Its destination name. */
  name: DestinationName;
  /** Where it goes, as `parseImageReference` reads (`docker://h/b:1`, `oci:DIR:b:1`, `dir:D/b:1`). */
  destination: string;
  /** Requests to one store share one budget: `docker://host`, `oci:DIR`. */
  sourceStore: string;
  /** The destination's store, likewise. */
  destinationStore: string;
  /** Where the destination keeps blobs (a repository, a layout): a blob moves there once per run. */
  blobScope: string;
}

/**
 * Pairs each source image with its destination, keeping this shard's.
 *
 * @example
 * ```ts
 * import { planSync } from "./plan.ts";
 * const items = planSync(
 *   [{ ref: "docker://localhost:5000/a/b:1", registry: "localhost:5000", repository: "a/b", tag: "1" }],
 *   { destination: { kind: "docker", location: "localhost:5001/mirror" } },
 * );
 * console.log(items[0].destination); // "docker://localhost:5001/mirror/b:1"
 * ```
 */
export function planSync(images: SourceImage[], opts: PlanOptions): SyncItem[] {
  const location = opts.destination.location.replace(/^docker:\/\//, "").replace(/\/+$/, "");
  if (location === "") throw new UsageError("the destination is empty");
  const items: SyncItem[] = [];
  // Two sources under one destination name would overwrite each other (and, into dir:, delete
  // each other's files): refuse before anything is copied, across every shard.
  const wanted = opts.withSubjects
    ? images.filter((i) => !DIGEST_NAMED_TAG.test(i.tag ?? ""))
    : images;
  const seen = new Map<string, string>();
  for (const source of wanted) {
    const named = nameWithTag(destinationName(source, opts));
    const other = seen.get(named);
    if (other !== undefined && other !== source.ref) {
      throw new UsageError(
        `${other} and ${source.ref} would both be written to ${named}; ` +
          `use --scoped to keep their full names`,
      );
    }
    seen.set(named, source.ref);
  }
  for (const source of wanted) {
    if (!inShard(source.ref, opts.shard)) continue;
    const name = destinationName(source, opts);
    const named = nameWithTag(name);
    const sourceStore = source.store ?? `docker://${source.registry}`;
    let destination: string;
    let destinationStore: string;
    let blobScope: string;
    switch (opts.destination.kind) {
      case "docker": {
        destination = `docker://${location}/${named}`;
        destinationStore = `docker://${location.split("/")[0]}`;
        blobScope = `docker://${location}/${name.repository}`;
        break;
      }
      case "oci":
        destination = `oci:${location}:${named}`;
        destinationStore = blobScope = `oci:${location}`;
        break;
      case "dir":
        destination = `dir:${location}/${named}`;
        destinationStore = `dir:${location}`;
        blobScope = destination;
        break;
    }
    items.push({ source, name, destination, sourceStore, destinationStore, blobScope });
  }
  return items;
}
