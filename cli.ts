#!/usr/bin/env -S deno run --v8-flags=--max-semi-space-size=1 --allow-net --allow-read --allow-write --allow-env --allow-run --allow-sys
/**
 * The `dtool` command: copy, sync, inspect and list-tags for container images.
 * Command modules load lazily so `--help` and `--version` start fast.
 *
 * @module
 */
import { ExitCode } from "./lib/errors.ts";
import { versionLine } from "./lib/version.ts";
import { quickParse } from "./lib/cli/quick_parse.ts";
import { useExitingProcessTimers } from "./lib/timers.ts";

/** Runs dtool with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let pending: Promise<number> = Promise.resolve(0);
  const run = (operation: string, reference: string, action: () => Promise<void>) => {
    pending = action().then(() => 0, async (err) => {
      const { DtoolError } = await import("./lib/errors.ts");
      const { redactText } = await import("./lib/redact.ts");
      // One line, whatever the error, with any URL's secrets masked.
      const reason = redactText(err instanceof Error ? err.message : String(err)).replace(
        /\s*\n\s*/g,
        " ",
      );
      console.error(`dtool: ${operation} ${reference}: ${reason}`);
      return err instanceof DtoolError ? err.exitCode : ExitCode.Failure;
    });
  };
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-v")) {
    // An awaited write, not console.log: the run then lasts one turn of the event loop, in which
    // Deno stores the V8 code cache of what it compiled (the bundle's --version: 46 -> 20 ms).
    await Deno.stdout.write(new TextEncoder().encode(versionLine() + "\n")).catch(() => 0);
    return 0;
  }
  const quick = quickParse(args);
  if (quick) {
    const [arg, dest] = quick.args;
    // deno-lint-ignore no-explicit-any
    const flags = quick.flags as any;
    const actions: Record<string, () => Promise<void>> = {
      copy: async () => (await import("./lib/cli/copy.ts")).runCopy(arg, dest, flags),
      inspect: async () => (await import("./lib/cli/inspect.ts")).runInspect(arg, flags),
      "list-tags": async () => (await import("./lib/cli/list_tags.ts")).runListTags(arg, flags),
      digest: async () => (await import("./lib/cli/digest.ts")).runDigest(arg, flags),
      sync: async () => (await import("./lib/cli/sync.ts")).runSync(arg, dest, flags),
    };
    run(quick.command, arg, actions[quick.command]);
    return await pending;
  }
  // The command framework (~40 ms to load) only for what the quick parser leaves to it.
  const [{ program }, { CommanderError }] = await Promise.all([
    import("./lib/cli/program.ts"),
    import("./lib/cli/deps.ts"),
  ]);
  if (args.length === 0) {
    // No command is a usage error: show what there is, and say so in the exit code.
    program(run).outputHelp({ error: true });
    return ExitCode.Usage;
  }
  try {
    await program(run).parseAsync(args, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      const ok = ["commander.helpDisplayed", "commander.version", "commander.help"].includes(
        err.code,
      );
      return ok ? 0 : ExitCode.Usage;
    }
    throw err;
  }
  return await pending;
}

if (import.meta.main) {
  // This process ends with Deno.exit: timers need not load node:timers (lib/timers.ts).
  useExitingProcessTimers();
  Deno.exit(await main(Deno.args));
}
