/**
 * What `dtool serve` stores, over one OCI image layout: each tag is an
 * `index.json` entry named `<repository>:<tag>`, each blob and manifest is
 * stored once under `blobs/` whatever repository pushed it.
 *
 * Which repository may see which content: a blob or manifest is visible in
 * a repository when a manifest of that repository (a tagged one, or one
 * pushed to it by digest) references it, or when it was pushed or mounted
 * into that repository. The last two, and manifests pushed by digest, are
 * recorded per repository in `dtool-repositories.json` beside `index.json`;
 * a layout written by `dtool copy … oci:DIR:<repo>:<tag>` needs no record.
 * Every change goes through {@linkcode OciLayout.updateWithSidecar}, under
 * the layout's lock.
 *
 * @module
 */
import { computeDigest, parseDigest } from "../digest.ts";
import {
  type Descriptor,
  MAX_MANIFEST_BYTES,
  type ParsedManifest,
  parseManifest,
} from "../manifest.ts";
import { isNonDistributableMediaType } from "../media_types.ts";
import { type OciLayout, refName, withRef } from "../oci/layout.ts";
import { readAll } from "../remotes/manifest_source.ts";
import { RegistryError } from "./errors.ts";
import { isSupportedDigest, isTag, splitRefName } from "./names.ts";

/** The record beside `index.json`. */
export const RECORD_FILE = "dtool-repositories.json";

/** What the record holds for one repository. */
interface RepositoryRecord {
  /** Blobs pushed or mounted into it. */
  blobs: string[];
  /** Manifests pushed to it (by tag or digest). */
  manifests: Descriptor[];
}

/** The record file. */
interface StorageRecord {
  repositories: Record<string, RepositoryRecord>;
}

/** What one repository can see. */
interface RepositoryView {
  tags: Map<string, Descriptor>;
  manifests: Map<string, Descriptor>;
  /** Blobs recorded for it or used by its manifests. */
  blobs: Set<string>;
  /** Content its manifests use (config, layers, children). */
  used: Set<string>;
  /** Referrers by the digest of their subject. */
  referrers: Map<string, Descriptor[]>;
}

/** Every repository's view, and what any manifest of the layout uses. */
interface Snapshot {
  repositories: Map<string, RepositoryView>;
  used: Set<string>;
  recordedBlobs: Set<string>;
}

/** Where a manifest or blob is, and what it is. */
export interface Located {
  /** Its descriptor (media type of a manifest as stored). */
  descriptor: Descriptor;
  /** Its file. */
  path: string;
}

/** The result of a manifest PUT. */
export interface PutManifestResult {
  /** The manifest's digest. */
  digest: string;
  /** The digest of its subject, when it has one. */
  subject?: string;
}

/**
 * Registry content over an {@linkcode OciLayout}.
 *
 * @example
 * ```ts
 * import { OciLayout } from "../oci/layout.ts";
 * import { RegistryStorage } from "./storage.ts";
 * const layout = await OciLayout.open(await Deno.makeTempDir(), { create: true });
 * const storage = new RegistryStorage(layout);
 * console.log(await storage.repositories()); // []
 * ```
 */
export class RegistryStorage {
  /** The layout everything is stored in. */
  readonly layout: OciLayout;
  #parsed = new Map<string, ParsedManifest | null>();
  #snapshot?: { stamp: string; snapshot: Promise<Snapshot> };

  /** Storage in `layout`. */
  constructor(layout: OciLayout) {
    this.layout = layout;
  }

  /** The current snapshot, rebuilt only when `index.json` or the record changed. */
  async #view(): Promise<Snapshot> {
    const stamp = await this.layout.stamp(RECORD_FILE);
    if (this.#snapshot?.stamp !== stamp) {
      const snapshot = Promise.all([
        this.layout.readIndex(),
        this.layout.readSidecar<StorageRecord>(RECORD_FILE),
      ]).then(([index, record]) => this.#build(index, record));
      this.#snapshot = { stamp, snapshot };
      snapshot.catch(() => {
        if (this.#snapshot?.snapshot === snapshot) this.#snapshot = undefined;
      });
    }
    return await this.#snapshot.snapshot;
  }

  async #repository(repository: string): Promise<RepositoryView | undefined> {
    return (await this.#view()).repositories.get(repository);
  }

  /** A manifest's parsed document, read once (content never changes under its digest). */
  async #load(desc: Descriptor): Promise<ParsedManifest | null> {
    let parsed = this.#parsed.get(desc.digest);
    if (parsed !== undefined) return parsed;
    try {
      const raw = await readAll(await this.layout.readBlob(desc), MAX_MANIFEST_BYTES);
      parsed = parseManifest(raw, desc.mediaType);
    } catch {
      parsed = null; // missing or unreadable: visible by name, but it uses nothing
    }
    if (parsed !== null) this.#parsed.set(desc.digest, parsed);
    return parsed;
  }

  async #build(index: Descriptor[], record: StorageRecord | undefined): Promise<Snapshot> {
    const repositories = new Map<string, RepositoryView>();
    const used = new Set<string>();
    const recordedBlobs = new Set<string>();
    const view = (name: string) => {
      let v = repositories.get(name);
      if (!v) {
        v = {
          tags: new Map(),
          manifests: new Map(),
          blobs: new Set(),
          used: new Set(),
          referrers: new Map(),
        };
        repositories.set(name, v);
      }
      return v;
    };
    const walk = async (v: RepositoryView | undefined, desc: Descriptor) => {
      used.add(desc.digest);
      if (v) {
        if (v.manifests.has(desc.digest)) return;
        v.manifests.set(desc.digest, desc);
      }
      const m = await this.#load(desc);
      if (!m) return;
      const subject = m.kind === "manifest" ? m.manifest.subject : m.index.subject;
      if (v && subject) {
        const doc = m.kind === "manifest" ? m.manifest : m.index;
        const referrer: Descriptor = {
          mediaType: m.mediaType,
          digest: desc.digest,
          size: desc.size,
        };
        const artifactType = doc.artifactType ??
          (m.kind === "manifest" ? m.manifest.config.mediaType : undefined);
        if (artifactType) referrer.artifactType = artifactType;
        if (doc.annotations) referrer.annotations = doc.annotations;
        const list = v.referrers.get(subject.digest) ?? [];
        if (!list.some((d) => d.digest === desc.digest)) list.push(referrer);
        v.referrers.set(subject.digest, list);
      }
      if (m.kind === "manifest") {
        for (const d of [m.manifest.config, ...m.manifest.layers]) {
          used.add(d.digest);
          v?.used.add(d.digest);
          v?.blobs.add(d.digest);
        }
      } else {
        for (const child of m.index.manifests) {
          v?.used.add(child.digest);
          await walk(v, child);
        }
      }
    };
    for (const [name, r] of Object.entries(record?.repositories ?? {})) {
      const v = view(name);
      for (const b of r.blobs) {
        v.blobs.add(b);
        recordedBlobs.add(b);
      }
    }
    for (const entry of index) {
      const name = refName(entry);
      const parts = name === undefined ? undefined : splitRefName(name);
      if (!parts) {
        await walk(undefined, entry); // not a repository's: still uses its content
        continue;
      }
      const v = view(parts.repository);
      v.tags.set(parts.tag, entry);
      await walk(v, entry);
    }
    for (const [name, r] of Object.entries(record?.repositories ?? {})) {
      for (const m of r.manifests) await walk(view(name), m);
    }
    return { repositories, used, recordedBlobs };
  }

  /** Every repository with content, in lexical order. */
  async repositories(): Promise<string[]> {
    const snap = await this.#view();
    return [...snap.repositories.entries()]
      .filter(([, v]) => v.tags.size || v.manifests.size || v.blobs.size)
      .map(([name]) => name).sort();
  }

  /** The tags of a repository in lexical order; NAME_UNKNOWN when it has no content. */
  async tags(repository: string): Promise<string[]> {
    const v = await this.#repository(repository);
    if (!v) throw nameUnknown(repository);
    return [...v.tags.keys()].sort();
  }

  /** A manifest by tag or digest, as the repository sees it. */
  async manifest(repository: string, reference: string): Promise<Located> {
    const v = await this.#repository(repository);
    const desc = isSupportedDigest(reference)
      ? v?.manifests.get(reference)
      : v?.tags.get(reference);
    if (!desc || !(await this.layout.hasBlob(desc))) {
      throw new RegistryError(
        "MANIFEST_UNKNOWN",
        `manifest ${repository}:${reference} is not known`,
      );
    }
    return { descriptor: desc, path: this.layout.blobPath(desc.digest) };
  }

  /** A blob the repository can see, or `undefined`. */
  async blob(repository: string, digest: string): Promise<Located | undefined> {
    const v = await this.#repository(repository);
    if (!v || !(v.blobs.has(digest) || v.manifests.has(digest))) return undefined;
    return await this.#located(digest);
  }

  async #located(digest: string): Promise<Located | undefined> {
    const path = this.layout.blobPath(digest);
    try {
      const info = await Deno.stat(path);
      if (!info.isFile) return undefined;
      return {
        descriptor: { mediaType: "application/octet-stream", digest, size: info.size },
        path,
      };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  }

  /** Referrers of `digest` in the repository, optionally of one artifact type. */
  async referrers(
    repository: string,
    digest: string,
    artifactType?: string,
  ): Promise<Descriptor[]> {
    const list = (await this.#repository(repository))?.referrers.get(digest) ?? [];
    return artifactType === undefined ? list : list.filter((d) => d.artifactType === artifactType);
  }

  /**
   * Makes an uploaded file the blob `desc` of `repository` (the caller
   * verified its digest): renamed into `blobs/` and recorded, under the lock.
   */
  async addBlob(
    repository: string,
    desc: Pick<Descriptor, "digest" | "size">,
    path?: string,
  ): Promise<void> {
    await this.#update(async (_index, record) => {
      if (path !== undefined) await this.layout.adoptBlob(path, desc);
      return { sidecar: recordBlob(record, repository, desc.digest), result: undefined };
    });
  }

  /** Mounts a blob `from` another repository; false when that one cannot see it. */
  async mountBlob(repository: string, from: string, digest: string): Promise<boolean> {
    return await this.#update(async (index, record) => {
      const source = (await this.#build(index, record)).repositories.get(from);
      const visible = source && (source.blobs.has(digest) || source.manifests.has(digest));
      if (!visible || !(await this.#located(digest))) return { result: false };
      return { sidecar: recordBlob(record, repository, digest), result: true };
    });
  }

  /**
   * Stores a manifest under a tag or its digest once every blob and child
   * manifest it names is visible in the repository (a missing `subject` is
   * allowed, as the spec requires).
   */
  async putManifest(
    repository: string,
    reference: string,
    raw: Uint8Array,
    contentType: string | undefined,
  ): Promise<PutManifestResult> {
    let parsed: ParsedManifest;
    try {
      parsed = parseManifest(raw, contentType);
    } catch (e) {
      throw new RegistryError("MANIFEST_INVALID", (e as Error).message);
    }
    const byDigest = isSupportedDigest(reference);
    if (!byDigest && !isTag(reference)) {
      throw new RegistryError("MANIFEST_INVALID", `invalid tag ${JSON.stringify(reference)}`);
    }
    const digest = byDigest ? computeDigest(raw, parseDigest(reference).algorithm) : parsed.digest;
    if (byDigest && digest !== reference) {
      throw new RegistryError("DIGEST_INVALID", `manifest digest is ${digest}, not ${reference}`);
    }
    const doc = parsed.kind === "manifest" ? parsed.manifest : parsed.index;
    const desc: Descriptor = { mediaType: parsed.mediaType, digest, size: raw.byteLength };
    if (doc.artifactType) desc.artifactType = doc.artifactType;
    if (!(await this.layout.hasBlob(desc))) {
      const writer = await this.layout.writeBlob(desc);
      await new Blob([raw as BlobPart]).stream().pipeTo(writer.writable);
      await writer.commit();
    }
    this.#parsed.set(digest, { ...parsed, digest });
    await this.#update(async (index, record) => {
      const v = (await this.#build(index, record)).repositories.get(repository);
      const missing: string[] = [];
      const needs = parsed.kind === "manifest"
        ? [parsed.manifest.config, ...parsed.manifest.layers].filter((d) =>
          !(isNonDistributableMediaType(d.mediaType) && d.urls?.length)
        )
        : parsed.index.manifests;
      for (const d of needs) {
        const visible = v && (v.blobs.has(d.digest) || v.manifests.has(d.digest));
        if (!visible || !(await this.layout.hasBlob(d))) missing.push(d.digest);
      }
      if (missing.length) {
        throw new RegistryError(
          "MANIFEST_BLOB_UNKNOWN",
          `manifest ${digest} names content ${repository} does not have: ${missing.join(", ")}`,
          { detail: { missing } },
        );
      }
      const next = structuredClone(record ?? { repositories: {} });
      const r = next.repositories[repository] ??= { blobs: [], manifests: [] };
      if (!r.manifests.some((m) => m.digest === digest)) r.manifests.push(desc);
      const manifests = byDigest ? index : withRef(index, desc, `${repository}:${reference}`);
      return { manifests, sidecar: next, result: undefined };
    });
    return { digest, subject: doc.subject?.digest };
  }

  /** Deletes a manifest by digest from a repository, with every tag of it there. */
  async deleteManifest(repository: string, digest: string): Promise<void> {
    await this.#update(async (index, record) => {
      const v = (await this.#build(index, record)).repositories.get(repository);
      if (!v?.manifests.has(digest)) {
        throw new RegistryError(
          "MANIFEST_UNKNOWN",
          `manifest ${repository}@${digest} is not known`,
        );
      }
      const manifests = index.filter((d) =>
        !(d.digest === digest && splitRefName(refName(d) ?? "")?.repository === repository)
      );
      const next = structuredClone(record ?? { repositories: {} });
      const r = next.repositories[repository];
      if (r) r.manifests = r.manifests.filter((m) => m.digest !== digest);
      // A child of an index of this repository stays reachable through it: refuse, rather than
      // answer 202 and go on serving it.
      const after = (await this.#build(manifests, next)).repositories.get(repository);
      if (after?.manifests.has(digest)) {
        throw new RegistryError(
          "UNSUPPORTED",
          `manifest ${repository}@${digest} is named by an index of ${repository}; ` +
            `delete that index first`,
        );
      }
      return { manifests, sidecar: next, result: undefined };
    });
  }

  /** Deletes a tag; the manifest stays where it is otherwise known. */
  async deleteTag(repository: string, tag: string): Promise<void> {
    await this.#update((index) => {
      const name = `${repository}:${tag}`;
      if (!index.some((d) => refName(d) === name)) {
        throw new RegistryError("MANIFEST_UNKNOWN", `tag ${name} is not known`);
      }
      return Promise.resolve({
        manifests: index.filter((d) => refName(d) !== name),
        result: undefined,
      });
    });
  }

  /**
   * Deletes a blob from a repository: refused (UNSUPPORTED) while a manifest
   * of the repository uses it; its file goes once nothing in the storage
   * uses or records it.
   */
  async deleteBlob(repository: string, digest: string): Promise<void> {
    await this.#update(async (index, record) => {
      const v = (await this.#build(index, record)).repositories.get(repository);
      if (!v || !(v.blobs.has(digest) || v.manifests.has(digest))) {
        throw new RegistryError("BLOB_UNKNOWN", `blob ${digest} is not known in ${repository}`);
      }
      if (v.used.has(digest) || v.manifests.has(digest)) {
        throw new RegistryError(
          "UNSUPPORTED",
          `blob ${digest} is used by a manifest of ${repository}; delete the manifest first`,
        );
      }
      const next = structuredClone(record ?? { repositories: {} });
      const r = next.repositories[repository];
      if (r) r.blobs = r.blobs.filter((b) => b !== digest);
      const after = await this.#build(index, next);
      if (!after.used.has(digest) && !after.recordedBlobs.has(digest)) {
        await this.layout.removeBlob(digest);
      }
      return { sidecar: next, result: undefined };
    });
  }

  /** One change under the layout's lock; the snapshot is rebuilt after it. */
  async #update<T>(
    fn: (
      index: Descriptor[],
      record: StorageRecord | undefined,
    ) => Promise<{ manifests?: Descriptor[]; sidecar?: StorageRecord; result: T }>,
  ): Promise<T> {
    try {
      return await this.layout.updateWithSidecar<StorageRecord, T>(RECORD_FILE, fn);
    } finally {
      this.#snapshot = undefined;
    }
  }
}

function recordBlob(
  record: StorageRecord | undefined,
  repository: string,
  digest: string,
): StorageRecord {
  const next = structuredClone(record ?? { repositories: {} });
  const r = next.repositories[repository] ??= { blobs: [], manifests: [] };
  if (!r.blobs.includes(digest)) r.blobs.push(digest);
  return next;
}

function nameUnknown(repository: string): RegistryError {
  return new RegistryError("NAME_UNKNOWN", `repository ${repository} is not known`);
}
