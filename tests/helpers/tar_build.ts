/**
 * Tar archives for tests, built in memory with node-tar's header codec so
 * they can hold what dtool must refuse (devices, `..`, escaping links, lying
 * sizes) as well as what it must read (pax names, links inside).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Header, Pax } from "../../lib/archive/tar_deps.ts";

/** One entry to write. */
export interface TarEntry {
  /** The name as written. */
  path: string;
  /** The data (none for links, directories, devices). */
  data?: Uint8Array;
  /** node-tar's type name (default `File`). */
  type?: string;
  /** A link's target. */
  linkpath?: string;
  /** Size written in the header when it is not the data's. */
  size?: number;
  /** Put the name in a pax extended header (and a short one in the ustar block). */
  pax?: boolean;
}

/** A tar archive of `entries`; without `end`, no end-of-archive blocks. */
export function buildTar(entries: TarEntry[], end = true): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array();
    const fields = {
      path: e.path,
      size: e.size ?? data.byteLength,
      mode: 0o644,
      mtime: new Date(0),
      type: (e.type ?? "File") as "File",
      linkpath: e.linkpath,
    };
    if (e.pax) parts.push(new Pax({ path: e.path }).encode());
    const block = Buffer.alloc(512);
    new Header(e.pax ? { ...fields, path: "short-name" } : fields).encode(block, 0);
    parts.push(block, data, new Uint8Array((512 - (data.byteLength % 512)) % 512));
  }
  if (end) parts.push(new Uint8Array(1024));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
