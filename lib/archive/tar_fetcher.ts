/**
 * Reading content out of an indexed tar archive: each blob is a byte range
 * of the archive file, read and verified against its descriptor as it
 * streams, with the archive and the entry named in every error.
 *
 * @module
 */
import { parseDigest } from "../digest.ts";
import { DigestMismatchError, NotFoundError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import type { Fetcher, FetchOptions } from "../remotes/remotes.ts";
import { verifiedFileStream } from "../local/files.ts";
import { resolveMember, type TarIndex } from "./tar_index.ts";

/** Where a descriptor's content lies in an archive: a member name, or a way to make it. */
export type BlobSource =
  | { member: string }
  | { bytes: Uint8Array }
  | { open: (desc: Descriptor, options?: FetchOptions) => Promise<ReadableStream<Uint8Array>> };

/** The OCI layout name of a blob: `blobs/<alg>/<hex>`. */
export function blobName(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex}`;
}

/**
 * A {@linkcode Fetcher} over an archive: blobs found through `sources`, else
 * at their OCI layout name, each verified by digest while it is read.
 *
 * @example
 * ```ts ignore
 * import { indexTar } from "./tar_index.ts";
 * import { TarFetcher } from "./tar_fetcher.ts";
 * const f = new TarFetcher(await indexTar("/tmp/image.tar"), "oci-archive:/tmp/image.tar");
 * ```
 */
export class TarFetcher implements Fetcher {
  #index: TarIndex;
  #where: string;
  #sources: Map<string, BlobSource>;

  /** A fetcher reading from `index`, `where` naming the archive in errors. */
  constructor(index: TarIndex, where: string, sources = new Map<string, BlobSource>()) {
    this.#index = index;
    this.#where = where;
    this.#sources = sources;
  }

  /** The content of `desc`, verified as it is read. */
  async fetch(desc: Descriptor, options: FetchOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const label = `blob ${desc.digest} in ${this.#where}`;
    const source = this.#sources.get(desc.digest) ?? { member: blobName(desc.digest) };
    if ("open" in source) return await source.open(desc, options);
    if ("bytes" in source) {
      return new Blob([source.bytes as BufferSource]).stream();
    }
    let member;
    try {
      member = resolveMember(this.#index, source.member);
    } catch (e) {
      if (e instanceof NotFoundError) throw new NotFoundError(`${label}: not found`, { cause: e });
      throw e;
    }
    if (member.size !== desc.size) {
      throw new DigestMismatchError(
        `${label}: entry "${member.name}" is ${member.size} bytes, the manifest says ${desc.size}`,
      );
    }
    return await verifiedFileStream(
      { path: this.#index.path, offset: member.offset, label },
      desc,
      options,
    );
  }
}
