/**
 * Per-registry TLS material, found where Docker and skopeo look for it:
 * a `--cert-dir`, else `/etc/docker/certs.d/HOST[:PORT]/` and
 * `/etc/containers/certs.d/HOST[:PORT]/`. `*.crt` files are extra CAs;
 * `NAME.cert` with `NAME.key` is a client certificate (mTLS).
 *
 * @module
 */
import { joinPath as join } from "../../path.ts";
import { UsageError } from "../../errors.ts";

/** What a certificate directory holds. */
export interface TlsMaterial {
  /** PEM CA certificates to trust besides the system's. */
  caCerts: string[];
  /** PEM client certificate. */
  cert?: string;
  /** PEM client key. */
  key?: string;
}

/** Directories searched for a host when no `--cert-dir` is given. */
export const SYSTEM_CERT_DIRS: readonly string[] = [
  "/etc/docker/certs.d",
  "/etc/containers/certs.d",
];

async function readDirNames(dir: string): Promise<string[] | undefined> {
  try {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) if (e.isFile || e.isSymlink) names.push(e.name);
    return names.sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return;
    throw new UsageError(`cannot read certificate directory ${dir}: ${(e as Error).message}`);
  }
}

/**
 * Reads one certificate directory; undefined when it does not exist.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readCertDir } from "./tls.ts";
 * assert.deepEqual(await readCertDir("/nonexistent"), undefined);
 * ```
 */
export async function readCertDir(dir: string): Promise<TlsMaterial | undefined> {
  const names = await readDirNames(dir);
  if (!names) return undefined;
  const material: TlsMaterial = { caCerts: [] };
  for (const name of names) {
    if (name.endsWith(".crt")) material.caCerts.push(await Deno.readTextFile(join(dir, name)));
    if (name.endsWith(".cert")) {
      const keyName = name.slice(0, -".cert".length) + ".key";
      if (!names.includes(keyName)) {
        throw new UsageError(`client certificate ${join(dir, name)} has no ${keyName} beside it`);
      }
      material.cert = await Deno.readTextFile(join(dir, name));
      material.key = await Deno.readTextFile(join(dir, keyName));
    }
    if (name.endsWith(".key") && !names.includes(name.slice(0, -".key".length) + ".cert")) {
      throw new UsageError(`client key ${join(dir, name)} has no matching .cert beside it`);
    }
  }
  return material;
}

/**
 * The TLS material for a host: the given directory, else the system ones.
 *
 * @example
 * ```ts
 * import { tlsMaterialFor } from "./tls.ts";
 * console.log(await tlsMaterialFor("registry.invalid:5000", undefined)); // undefined (usually)
 * ```
 */
export async function tlsMaterialFor(
  host: string,
  certDir: string | undefined,
): Promise<TlsMaterial | undefined> {
  if (certDir) return await readCertDir(certDir) ?? { caCerts: [] };
  for (const base of SYSTEM_CERT_DIRS) {
    const m = await readCertDir(join(base, host));
    if (m) return m;
  }
  return undefined;
}
