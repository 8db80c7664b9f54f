/**
 * `dtool inspect REF`.
 *
 * @module
 */
import { inspectConfig, inspectImage, inspectRaw } from "../inspect.ts";
import { parsePlatform } from "../platform.ts";
import { parseImageReference } from "../reference.ts";
import { canListTags } from "../remotes/remotes.ts";
import { debugLine, printJson, writeStdout } from "./common.ts";
import { openWithFlags } from "./registry_flags.ts";

/** Flags of `dtool inspect`. */
export interface InspectFlags {
  raw?: boolean;
  config?: boolean;
  platform?: string;
  creds?: string;
  authfile?: string;
  certDir?: string;
  tlsVerify: boolean;
  tags: boolean;
  debug?: boolean;
}

/** Runs the inspect command. */
export async function runInspect(arg: string, flags: InspectFlags): Promise<void> {
  const image = parseImageReference(arg);
  const platform = flags.platform ? parsePlatform(flags.platform) : undefined;
  const end = await openWithFlags(image, flags);
  const { resolver, ref } = end;
  try {
    if (flags.config) {
      await writeStdout(await inspectConfig(resolver, ref, { platform }));
    } else if (flags.raw) {
      await writeStdout(await inspectRaw(resolver, ref));
    } else {
      const info = await inspectImage(resolver, ref, end.name, {
        platform,
        tags: flags.tags && canListTags(resolver)
          ? { listTags: () => resolver.listTags(end.repositoryRef) }
          : undefined,
        onWarning: (m) => console.error(`dtool: warning: ${m}`),
      });
      printJson(info);
    }
  } finally {
    if (flags.debug) debugLine(`${end.requestCount()} HTTP requests`);
  }
}
