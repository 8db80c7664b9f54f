/**
 * `dtool inspect REF`.
 *
 * @module
 */
import { inspectConfig, inspectImage, inspectRaw } from "../inspect.ts";
import { parsePlatform } from "../platform.ts";
import { repositoryOnly } from "../reference.ts";
import { debugLine, dockerArgument, makeResolver, printJson, writeStdout } from "./common.ts";

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
  const { docker } = dockerArgument(arg);
  const platform = flags.platform ? parsePlatform(flags.platform) : undefined;
  const resolver = await makeResolver({
    creds: flags.creds,
    credsFlag: "--creds",
    authfile: flags.authfile,
    certDir: flags.certDir,
    tlsVerify: flags.tlsVerify,
    debug: flags.debug ?? false,
  });
  const ref = docker.toString();
  try {
    if (flags.config) {
      await writeStdout(await inspectConfig(resolver, ref, { platform }));
    } else if (flags.raw) {
      await writeStdout(await inspectRaw(resolver, ref));
    } else {
      const repo = repositoryOnly(docker).toString();
      const info = await inspectImage(resolver, ref, docker.name, {
        platform,
        tags: flags.tags ? { listTags: () => resolver.listTags(repo) } : undefined,
        onWarning: (m) => console.error(`dtool: warning: ${m}`),
      });
      printJson(info);
    }
  } finally {
    if (flags.debug) debugLine(`${resolver.client.requests} HTTP requests`);
  }
}
