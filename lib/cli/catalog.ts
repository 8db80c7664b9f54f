/**
 * `dtool catalog REGISTRY`.
 *
 * @module
 */
import { UsageError } from "../errors.ts";
import { canListRepositories } from "../manage.ts";
import { parseDockerReference, parseImageReference } from "../reference.ts";
import { debugLine, printJson } from "./common.ts";
import { openWithFlags, type RegistryFlags } from "./registry_flags.ts";

/**
 * Runs the catalog command: `{"Repositories": [...]}`, every page. The
 * argument is a registry (`localhost:5000`, `docker://localhost:5000`) or
 * a layout (`oci:DIR`) whose ref names are `<repository>:<tag>`.
 */
export async function runCatalog(arg: string, flags: RegistryFlags): Promise<void> {
  const image = catalogTarget(arg);
  const end = await openWithFlags(image.reference, flags);
  try {
    if (!canListRepositories(end.resolver)) {
      throw new UsageError(`catalog does not work on ${end.transport}: references`);
    }
    printJson({ Repositories: await end.resolver.listRepositories(image.host) });
  } finally {
    if (flags.debug) debugLine(`${end.requestCount()} HTTP requests`);
  }
}

/** A registry host is opened as a reference into it (the catalog names no repository). */
function catalogTarget(arg: string) {
  if (/^[a-z-]+:(?!\/\/)/.test(arg) && !/^[^/]+:\d+\/?$/.test(arg)) {
    return { reference: parseImageReference(arg), host: "" };
  }
  const host = arg.replace(/^docker:\/\//, "").replace(/\/+$/, "");
  if (host === "" || host.includes("/")) {
    throw new UsageError(`${arg} is not a registry; give a host, e.g. localhost:5000`);
  }
  const domain = parseDockerReference(`${host}/catalog`).domain;
  return { reference: parseImageReference(`docker://${domain}/catalog`), host: domain };
}
