/**
 * `dtool serve`: a registry over an OCI layout until SIGINT or SIGTERM.
 *
 * @module
 */
import { serveRegistry } from "../serve/server.ts";

/** Flags of `dtool serve`. */
export interface ServeFlags {
  addr: string;
  storage?: string;
  readOnly?: boolean;
  htpasswd?: string;
  tlsCert?: string;
  tlsKey?: string;
  quiet?: boolean;
}

/** Runs the serve command; returns after a clean shutdown on SIGINT or SIGTERM. */
export async function runServe(flags: ServeFlags): Promise<void> {
  const registry = await serveRegistry({
    addr: flags.addr,
    storage: flags.storage,
    readOnly: flags.readOnly,
    htpasswd: flags.htpasswd,
    tlsCert: flags.tlsCert,
    tlsKey: flags.tlsKey,
    log: flags.quiet ? null : undefined,
  });
  const what = flags.storage ? flags.storage : `${registry.storage} (temporary)`;
  console.error(
    `dtool: serving ${what} at ${registry.url}${flags.readOnly ? " (read-only)" : ""}`,
  );
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  await new Promise<void>((resolve) => {
    const stop = () => {
      for (const s of signals) Deno.removeSignalListener(s, stop);
      resolve();
    };
    for (const s of signals) Deno.addSignalListener(s, stop);
  });
  await registry.shutdown();
  if (!flags.quiet) console.error("dtool: stopped");
}
