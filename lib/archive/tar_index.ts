/**
 * An index of a tar archive on disk, built once by walking its headers with
 * seeks (member data is never read to build it), so every member can later
 * be read as a byte range of the file. Tar input is untrusted: names with
 * `..` or a leading `/`, devices and FIFOs, links that leave the archive,
 * sizes that run past the end of the file and truncated archives are refused
 * with one line naming the archive and the entry.
 *
 * The tar format itself (ustar headers, pax extended headers) is decoded by
 * node-tar's `Header` and `Pax`; positions are ours.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { posix } from "node:path";
import { Header, type HeaderData, Pax } from "./tar_deps.ts";
import { DtoolError, NotFoundError } from "../errors.ts";

/** Size of a tar block. */
export const BLOCK = 512;

/** One member of an archive: where its data lies in the file. */
export interface TarMember {
  /** The member's name, normalised (no `./`, no trailing `/`). */
  name: string;
  /** Offset of its first data byte in the file. */
  offset: number;
  /** Its data size in bytes (0 for links). */
  size: number;
  /** `file`, `symlink` or `hardlink`. */
  type: "file" | "symlink" | "hardlink";
  /** For links: the normalised archive name the link points at. */
  target?: string;
}

/** What an archive holds: its regular files and links by name. */
export interface TarIndex {
  /** The archive's path. */
  path: string;
  /** Members by normalised name (later entries replace earlier ones, as tar extracts). */
  members: Map<string, TarMember>;
}

/** Links followed at most from one name (a loop is an error, not a hang). */
const MAX_LINK_HOPS = 16;
/** Extended headers are small; a huge one is an attack, not metadata. */
const MAX_META_BYTES = 1024 * 1024;

/** An archive that cannot be used, with the archive named in the message. */
export class TarError extends DtoolError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, undefined, options);
    this.name = "TarError";
  }
}

/**
 * Walks the headers of the tar file at `path` and returns its members,
 * refusing what an untrusted archive must not hold.
 *
 * @example
 * ```ts ignore
 * import { indexTar } from "./tar_index.ts";
 * const index = await indexTar("/tmp/image.tar");
 * console.log([...index.members.keys()]);
 * ```
 */
export async function indexTar(path: string): Promise<TarIndex> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new NotFoundError(`${path}: no such archive`);
    throw new TarError(`${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const end = (await file.stat()).size;
    return { path, members: await walk(file, path, end) };
  } finally {
    file.close();
  }
}

async function walk(file: Deno.FsFile, path: string, end: number): Promise<Map<string, TarMember>> {
  const members = new Map<string, TarMember>();
  const block = Buffer.alloc(BLOCK);
  let pos = 0;
  let ex: HeaderData | undefined;
  let gex: HeaderData | undefined;
  for (;;) {
    if (pos + BLOCK > end) {
      throw new TarError(`${path}: truncated archive (no end-of-archive marker at byte ${pos})`);
    }
    await readAt(file, block, pos);
    if (block.every((b) => b === 0)) break; // end of archive
    const header = new Header(block, 0, ex, gex);
    if (!header.cksumValid) throw new TarError(`${path}: bad tar header at byte ${pos}`);
    const size = header.size ?? 0;
    const offset = pos + BLOCK;
    const entry = header.path ?? "";
    if (offset + size > end) {
      throw new TarError(
        `${path}: entry "${entry}" runs past the end of the archive (${size} bytes at ${offset}, file is ${end})`,
      );
    }
    pos = offset + Math.ceil(size / BLOCK) * BLOCK;
    switch (header.type) {
      case "ExtendedHeader":
      case "OldExtendedHeader":
        ex = Pax.parse(await readText(file, path, entry, offset, size), ex);
        continue;
      case "GlobalExtendedHeader":
        gex = Pax.parse(await readText(file, path, entry, offset, size), gex, true);
        continue;
      case "NextFileHasLongPath":
      case "OldGnuLongPath":
        ex = {
          ...ex,
          path: (await readText(file, path, entry, offset, size)).replace(/\0.*/s, ""),
        };
        continue;
      case "NextFileHasLongLinkpath":
        ex = {
          ...ex,
          linkpath: (await readText(file, path, entry, offset, size)).replace(/\0.*/s, ""),
        };
        continue;
    }
    ex = undefined;
    const name = memberName(path, entry);
    switch (header.type) {
      case "Directory":
        continue;
      case "File":
      case "OldFile":
      case "ContiguousFile":
        members.set(name, { name, offset, size, type: "file" });
        continue;
      case "SymbolicLink":
      case "Link": {
        const symlink = header.type === "SymbolicLink";
        const target = linkTarget(path, name, header.linkpath ?? "", symlink);
        members.set(name, {
          name,
          offset,
          size: 0,
          type: symlink ? "symlink" : "hardlink",
          target,
        });
        continue;
      }
      case "CharacterDevice":
      case "BlockDevice":
      case "FIFO":
        throw new TarError(
          `${path}: entry "${entry}" is a device or FIFO, which an image archive never holds`,
        );
      default:
        throw new TarError(`${path}: entry "${entry}" has an unsupported type (${header.type})`);
    }
  }
  return members;
}

/**
 * The archive-relative name of an entry: `./` and trailing `/` dropped;
 * absolute names and `..` components refused.
 *
 * @example
 * ```ts
 * import { memberName } from "./tar_index.ts";
 * console.log(memberName("a.tar", "./blobs/sha256/ab")); // "blobs/sha256/ab"
 * ```
 */
export function memberName(archive: string, entry: string): string {
  if (entry === "") throw new TarError(`${archive}: an entry has an empty name`);
  if (entry.startsWith("/")) {
    throw new TarError(`${archive}: entry "${entry}" has an absolute path`);
  }
  const parts = entry.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new TarError(`${archive}: entry "${entry}" contains ".."`);
  if (parts.length === 0) throw new TarError(`${archive}: entry "${entry}" names no file`);
  return parts.join("/");
}

/** Where a link points, as an archive name; a target outside the archive is refused. */
function linkTarget(archive: string, name: string, linkpath: string, symlink: boolean): string {
  const outside = () =>
    new TarError(`${archive}: link "${name}" -> "${linkpath}" points outside the archive`);
  if (linkpath === "" || linkpath.startsWith("/")) throw outside();
  // A symlink is relative to its own directory; a hard link names an archive member.
  const joined = posix.normalize(symlink ? posix.join(posix.dirname(name), linkpath) : linkpath);
  if (joined === ".." || joined.startsWith("../") || joined.startsWith("/")) throw outside();
  return memberName(archive, joined);
}

/**
 * The regular file `name` stands for, following links inside the archive
 * (a bounded number of hops).
 *
 * @example
 * ```ts
 * import { resolveMember } from "./tar_index.ts";
 * const members = new Map([
 *   ["a/layer.tar", { name: "a/layer.tar", offset: 0, size: 0, type: "symlink" as const, target: "b.tar" }],
 *   ["b.tar", { name: "b.tar", offset: 512, size: 3, type: "file" as const }],
 * ]);
 * console.log(resolveMember({ path: "x.tar", members }, "a/layer.tar").offset); // 512
 * ```
 */
export function resolveMember(index: TarIndex, name: string): TarMember {
  let wanted = memberName(index.path, name);
  for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
    const m = index.members.get(wanted);
    if (!m) {
      throw new NotFoundError(
        hop === 0
          ? `${index.path}: no entry "${name}" in the archive`
          : `${index.path}: link "${name}" leads to "${wanted}", which is not in the archive`,
      );
    }
    if (m.type === "file") return m;
    wanted = m.target!;
  }
  throw new TarError(`${index.path}: links from "${name}" go round in a loop`);
}

/** Reads a member's whole data (small members only: JSON files). */
export async function readMember(
  index: TarIndex,
  name: string,
  limit = 64 * MAX_META_BYTES,
): Promise<Uint8Array> {
  const m = resolveMember(index, name);
  if (m.size > limit) {
    throw new TarError(
      `${index.path}: entry "${name}" is ${m.size} bytes, more than ${limit} expected`,
    );
  }
  const file = await Deno.open(index.path, { read: true });
  try {
    const buf = Buffer.alloc(m.size);
    await readAt(file, buf, m.offset);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } finally {
    file.close();
  }
}

async function readText(
  file: Deno.FsFile,
  archive: string,
  entry: string,
  offset: number,
  size: number,
): Promise<string> {
  if (size > MAX_META_BYTES) {
    throw new TarError(`${archive}: extended header "${entry}" is too large (${size} bytes)`);
  }
  const buf = Buffer.alloc(size);
  await readAt(file, buf, offset);
  return buf.toString("utf8");
}

/** Fills `buf` from `offset`; the file's end before that is a truncated archive. */
async function readAt(file: Deno.FsFile, buf: Uint8Array, offset: number): Promise<void> {
  await file.seek(offset, Deno.SeekMode.Start);
  let at = 0;
  while (at < buf.byteLength) {
    const n = await file.read(buf.subarray(at));
    if (n === null || n === 0) throw new TarError(`truncated archive at byte ${offset + at}`);
    at += n;
  }
}
