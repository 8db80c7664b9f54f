/**
 * Storing and removing credentials the way `docker login` / `docker logout`
 * do: in the registry's credential helper when one is configured, else in
 * `auths` of the config file, written atomically with mode 0600 and every
 * other key kept.
 *
 * @module
 */
import { joinPath as join, parentDir as dirname } from "../path.ts";
import { helperErase, helperStore } from "./credential_helper.ts";
import { type Credentials, encodeBase64Text } from "./credentials.ts";
import {
  configKeyHost,
  type DockerConfig,
  helperFor,
  readConfigObject,
  serverUrlFor,
} from "./docker_config.ts";

/** Writes JSON beside the target, then renames it over, so readers never see half a file. */
async function writeAtomic(path: string, doc: unknown): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(path), `.${crypto.randomUUID()}.tmp`);
  try {
    await Deno.writeTextFile(tmp, JSON.stringify(doc, null, "\t") + "\n", { mode: 0o600 });
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** Where {@linkcode storeLogin} put the credentials. */
export type LoginStore = { kind: "helper"; helper: string } | { kind: "file"; path: string };

/**
 * Stores credentials for a registry host.
 *
 * @example
 * ```ts
 * import { storeLogin } from "./login.ts";
 * // await storeLogin("/home/me/.docker/config.json", "localhost:5000", { username: "u", password: "p" });
 * ```
 */
export async function storeLogin(
  path: string,
  registry: string,
  creds: Credentials,
): Promise<LoginStore> {
  const doc = await readConfigObject(path);
  const helper = helperFor(doc as DockerConfig, registry);
  if (helper) {
    await helperStore(helper, serverUrlFor(registry), creds);
    return { kind: "helper", helper };
  }
  const auths = (typeof doc.auths === "object" && doc.auths !== null ? doc.auths : {}) as Record<
    string,
    unknown
  >;
  auths[serverUrlFor(registry)] = { auth: encodeBase64Text(`${creds.username}:${creds.password}`) };
  doc.auths = auths;
  await writeAtomic(path, doc);
  return { kind: "file", path };
}

/**
 * Removes the credentials of a registry host; false when there were none.
 *
 * @example
 * ```ts
 * import { removeLogin } from "./login.ts";
 * // const removed = await removeLogin("/home/me/.docker/config.json", "localhost:5000");
 * ```
 */
export async function removeLogin(path: string, registry: string): Promise<boolean> {
  const doc = await readConfigObject(path);
  const helper = helperFor(doc as DockerConfig, registry);
  let removed = false;
  if (helper) {
    try {
      await helperErase(helper, serverUrlFor(registry));
      removed = true;
    } catch {
      // Nothing stored there; the file may still hold an entry.
    }
  }
  const auths = doc.auths as Record<string, unknown> | undefined;
  if (auths && typeof auths === "object") {
    const hub = serverUrlFor(registry);
    for (const key of Object.keys(auths)) {
      if (key === registry || key === hub || configKeyHost(key) === registry) {
        delete auths[key];
        removed = true;
      }
    }
    if (removed) await writeAtomic(path, doc);
  }
  return removed;
}
