/**
 * Writing content into a tar archive being made: every blob becomes the
 * member `blobs/<alg>/<hex>` of a {@linkcode TarWriter}, verified as it is
 * written. Manifests are also handed to the archive's owner, which writes
 * the files that name them (`index.json`, `manifest.json`) when it closes.
 *
 * @module
 */
import { computeDigest } from "../digest.ts";
import { DigestMismatchError } from "../errors.ts";
import type { Descriptor } from "../manifest.ts";
import { isIndexMediaType, isManifestMediaType } from "../media_types.ts";
import { readAll } from "../remotes/manifest_source.ts";
import type { ContentWriter, Pusher, PushOptions } from "../remotes/remotes.ts";
import { blobName } from "./tar_fetcher.ts";
import type { TarWriter } from "./tar_writer.ts";

/** Told of each manifest once its bytes are in the archive; may refuse it by throwing first. */
export interface ManifestSink {
  /** Checks a manifest before it is written (e.g. a docker-archive refuses indexes). */
  accept?(desc: Descriptor, raw: Uint8Array, options: PushOptions): void;
  /** Records a manifest written. */
  written(desc: Descriptor, raw: Uint8Array, options: PushOptions): void;
}

/**
 * A {@linkcode Pusher} into a {@linkcode TarWriter}.
 *
 * @example
 * ```ts ignore
 * import { TarWriter } from "./tar_writer.ts";
 * import { TarPusher } from "./tar_pusher.ts";
 * const p = new TarPusher(await TarWriter.create("/tmp/out.tar"), "oci-archive:/tmp/out.tar", {
 *   written: () => {},
 * });
 * ```
 */
export class TarPusher implements Pusher {
  #writer: TarWriter;
  #where: string;
  #sink: ManifestSink;

  /** A pusher writing into `writer`, telling `sink` of manifests. */
  constructor(writer: TarWriter, where: string, sink: ManifestSink) {
    this.#writer = writer;
    this.#where = where;
    this.#sink = sink;
  }

  /** True when this archive already holds the blob. */
  exists(desc: Descriptor): Promise<boolean> {
    return Promise.resolve(this.#writer.has(blobName(desc.digest)));
  }

  /** Starts writing `desc` as its `blobs/` member. */
  push(desc: Descriptor, options: PushOptions = {}): Promise<ContentWriter> {
    const manifest = isManifestMediaType(desc.mediaType) || isIndexMediaType(desc.mediaType);
    const consume = manifest
      ? (source: ReadableStream<Uint8Array>) => this.#manifest(desc, source, options)
      : (source: ReadableStream<Uint8Array>) =>
        this.#writer.addStream(blobName(desc.digest), desc, source, {
          label: `blob ${desc.digest} for ${this.#where}`,
          signal: options.signal,
        });
    return Promise.resolve(streamWriter(consume));
  }

  async #manifest(desc: Descriptor, source: ReadableStream<Uint8Array>, options: PushOptions) {
    const raw = await readAll(source);
    const actual = computeDigest(raw);
    if (raw.byteLength !== desc.size || actual !== desc.digest) {
      throw new DigestMismatchError(
        `manifest ${desc.digest} for ${this.#where}: got ${actual} (${raw.byteLength} bytes)`,
      );
    }
    this.#sink.accept?.(desc, raw, options);
    const name = blobName(desc.digest);
    if (!this.#writer.has(name)) await this.#writer.addBytes(name, raw);
    this.#sink.written(desc, raw, options);
  }
}

/** A {@linkcode ContentWriter} over a function that takes the whole stream. */
function streamWriter(
  consume: (source: ReadableStream<Uint8Array>) => Promise<void>,
): ContentWriter {
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  let done: Promise<void> | undefined;
  const run = (source: ReadableStream<Uint8Array>) => {
    if (done) return Promise.reject(new Error("writer already in use"));
    done = consume(source);
    return done;
  };
  // Writing to `writable` starts the consumer; its failure is reported by commit().
  const viaPipe = () => {
    if (!done) run(pipe.readable).catch(() => {});
  };
  return {
    get writable() {
      viaPipe();
      return pipe.writable;
    },
    async commit() {
      if (!done) {
        viaPipe();
        await pipe.writable.close();
      }
      await done;
    },
    consume: run,
  };
}
