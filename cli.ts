#!/usr/bin/env -S deno run --v8-flags=--max-semi-space-size=1 --allow-net --allow-read --allow-write --allow-env --allow-run --allow-sys
/**
 * The `dtool` command: copy, sync, inspect and list-tags for container images.
 * Command modules load lazily so `--help` and `--version` start fast.
 *
 * @module
 */
import type * as Framework from "./lib/cli/deps.ts";
import {
  collect,
  parseBool,
  parseDuration,
  parsePositiveInt,
  parseSize,
  parseWholeNumber,
} from "./lib/cli/flags.ts";
import { ExitCode } from "./lib/errors.ts";
import { versionLine } from "./lib/version.ts";
import { quickParse } from "./lib/cli/quick_parse.ts";
import { useExitingProcessTimers } from "./lib/timers.ts";

// The command framework costs ~40 ms to load: only command lines that the quick parser leaves
// to it (help, mistakes, commands it does not know) load it.
let Command: typeof Framework.Command;
let CommanderError: typeof Framework.CommanderError;
let Option: typeof Framework.Option;
/** Loads the command framework (commander); {@linkcode program} needs it. */
export async function loadFramework(): Promise<void> {
  ({ Command, CommanderError, Option } = await import("./lib/cli/deps.ts"));
}

// Options several commands share, made once.
const authfileOption = () =>
  new Option("--authfile <file>", "credentials file instead of Docker's config.json");
const certDirOption = () =>
  new Option(
    "--cert-dir <dir>",
    "CA (*.crt) and client certificate (*.cert, *.key) for the registry",
  );
const credsOption = () => new Option("--creds <user:password>", "credentials for the registry");
const debugOption = () => new Option("--debug", "trace HTTP requests on stderr (secrets masked)");
const tlsVerifyOption = <F extends string>(flag: F, what: string) =>
  [
    `${flag} [bool]` as `${F} [bool]`,
    `verify TLS of ${what} (false also allows plain HTTP)`,
  ] as const;

/**
 * Adds the flags of a command that speaks to one registry: `--creds`,
 * `--authfile`, `--cert-dir`, `--tls-verify` and `--debug`.
 */
function registryFlags(command: Framework.Command): Framework.Command {
  return command
    .addOption(credsOption())
    .addOption(authfileOption())
    .addOption(certDirOption())
    .option(...tlsVerifyOption("--tls-verify", "the registry"), parseBool, true)
    .addOption(debugOption());
}

/**
 * Builds the command tree; `run` receives each action so errors stay in one
 * place. Call {@linkcode loadFramework} first.
 */
export function program(
  run: (operation: string, reference: string, action: () => Promise<void>) => void,
) {
  const root = new Command("dtool")
    .description("Copy, inspect and list container images in registries.")
    .version(versionLine(), "-v, --version", "print the version")
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(`dtool: ${text.replace(/^error: /, "")}`),
    })
    .showHelpAfterError(false);

  root.command("copy")
    .description("Copy an image (or an index and its images) from SRC to DEST.")
    .argument("<src>", "source, e.g. docker://registry.example/app:1")
    .argument("<dest>", "destination, e.g. docker://localhost:5000/app:1")
    .option("-a, --all", "copy every image of an index, and the index unchanged")
    .option(
      "--platform <os/arch[/variant]>",
      "choose this platform from an index (repeatable)",
      collect,
    )
    .option("--src-creds <user:password>", "credentials for the source registry")
    .option("--dest-creds <user:password>", "credentials for the destination registry")
    .addOption(authfileOption())
    .option(
      "--src-cert-dir <dir>",
      "CA (*.crt) and client certificate (*.cert, *.key) for the source",
    )
    .option(
      "--dest-cert-dir <dir>",
      "CA (*.crt) and client certificate (*.cert, *.key) for the destination",
    )
    .option(...tlsVerifyOption("--src-tls-verify", "the source registry"), parseBool, true)
    .option(...tlsVerifyOption("--dest-tls-verify", "the destination registry"), parseBool, true)
    .option(
      "--additional-tag <name:tag>",
      "another RepoTag for a docker-archive: destination (repeatable)",
      collect,
    )
    .option("--digestfile <file>", "write the digest of the copied manifest to this file")
    .option("-q, --quiet", "print no progress")
    .option(
      "--jobs <n>",
      "blobs copied at once, and so requests in flight to each registry (default 12)",
      parsePositiveInt,
    )
    .option(
      "--retry-times <n>",
      "times a failed request or blob is tried again (default 3)",
      parseWholeNumber,
    )
    .option(
      "--retry-delay <duration>",
      "fixed delay between retries (e.g. 500ms, 2s; default: exponential backoff)",
      parseDuration,
    )
    .option(
      "--upload-chunk-size <size>",
      "upload blobs in chunks of this size (e.g. 5MiB) for registries or proxies that limit bodies",
      parseSize,
    )
    .addOption(
      new Option("--progress <mode>", "progress output").choices(["auto", "tty", "plain", "json"])
        .default("auto"),
    )
    .option("--referrers", "also copy the referrers (signatures, SBOMs…) of every copied manifest")
    .option(
      "--referrers-artifact-type <type>",
      "with --referrers, only referrers of this artifact type (repeatable)",
      collect,
    )
    .option("--digest-tags", "also copy the tags named after a copied digest (sha256-<hex>.sig…)")
    .addOption(debugOption())
    .action((src, dest, flags) =>
      run("copy", src, async () => (await import("./lib/cli/copy.ts")).runCopy(src, dest, flags))
    );

  root.command("sync")
    .description(
      "Mirror many images (an image, a repository, a registry, a YAML list or an OCI layout) " +
        "to a registry, an OCI layout or dir: folders, incrementally and in parallel.",
    )
    .argument("<source>", "image, repository or registry (--src docker), file (yaml), layout (oci)")
    .argument("<destination>", "registry[/prefix] (--dest docker), layout (oci), folder (dir)")
    .addOption(
      new Option("-s, --src <transport>", "what SOURCE is").choices(["docker", "yaml", "oci"])
        .makeOptionMandatory(),
    )
    .addOption(
      new Option("-d, --dest <transport>", "what DESTINATION is").choices(["docker", "oci", "dir"])
        .makeOptionMandatory(),
    )
    .option("--scoped", "keep the whole source name (host_port/path) below the destination")
    .option("--append-suffix <suffix>", "append this to every destination tag")
    .option("-a, --all", "copy every image of an index, and the index unchanged")
    .option(
      "--platform <os/arch[/variant]>",
      "choose this platform from an index (repeatable)",
      collect,
    )
    .option("--dry-run", "list each image and what would happen; write nothing")
    .option("--keep-going", "go on after an image fails (exit 1 at the end)")
    .option(
      "--jobs <n>",
      "requests in flight to each registry, shared by all images (default 12)",
      parsePositiveInt,
    )
    .option(
      "--retry-times <n>",
      "times a failed request or blob is tried again (default 3)",
      parseWholeNumber,
    )
    .option(
      "--retry-delay <duration>",
      "fixed delay between retries (e.g. 500ms, 2s; default: exponential backoff)",
      parseDuration,
    )
    .option("--src-creds <user:password>", "credentials for the source registry")
    .option("--dest-creds <user:password>", "credentials for the destination registry")
    .option("--src-authfile <file>", "credentials file for the source")
    .option("--dest-authfile <file>", "credentials file for the destination")
    .addOption(authfileOption())
    .option(...tlsVerifyOption("--src-tls-verify", "the source registry"), parseBool, true)
    .option(...tlsVerifyOption("--dest-tls-verify", "the destination registry"), parseBool, true)
    .option(
      "--src-cert-dir <dir>",
      "CA (*.crt) and client certificate (*.cert, *.key) for the source",
    )
    .option(
      "--dest-cert-dir <dir>",
      "CA (*.crt) and client certificate (*.cert, *.key) for the destination",
    )
    .option(
      "--shard <I/N>",
      "sync only shard I (from 0) of N; auto/N takes I from JOB_COMPLETION_INDEX",
    )
    .addOption(
      new Option("--progress <mode>", "progress output").choices(["auto", "tty", "plain", "json"])
        .default("auto"),
    )
    .option("--referrers", "also copy the referrers (signatures, SBOMs…) of every copied manifest")
    .option(
      "--referrers-artifact-type <type>",
      "with --referrers, only referrers of this artifact type (repeatable)",
      collect,
    )
    .option("--digest-tags", "also copy the tags named after a copied digest (sha256-<hex>.sig…)")
    .option("-q, --quiet", "print no progress and no summary (failures still)")
    .addOption(debugOption())
    .action((source, destination, flags) =>
      run(
        "sync",
        source,
        async () => (await import("./lib/cli/sync.ts")).runSync(source, destination, flags),
      )
    );

  registryFlags(
    root.command("inspect")
      .description("Show an image's metadata without pulling its layers.")
      .argument("<ref>", "image, e.g. docker://registry.example/app:1")
      .option("--raw", "print the manifest bytes exactly as served")
      .option("--config", "print the image config bytes exactly as stored")
      .option("--platform <os/arch[/variant]>", "platform to choose from an index")
      .option("--no-tags", "do not list the repository's tags"),
  )
    .action((ref, flags) =>
      run("inspect", ref, async () => (await import("./lib/cli/inspect.ts")).runInspect(ref, flags))
    );

  registryFlags(
    root.command("list-tags")
      .description("List every tag of a repository.")
      .argument("<repo>", "repository, e.g. docker://registry.example/app"),
  )
    .action((repo, flags) =>
      run(
        "list-tags",
        repo,
        async () => (await import("./lib/cli/list_tags.ts")).runListTags(repo, flags),
      )
    );
  registryFlags(
    root.command("referrers")
      .description("List the manifests that refer to an image (signatures, SBOMs, attestations).")
      .argument("<ref>", "image, e.g. docker://registry.example/app:1")
      .option(
        "--artifact-type <type>",
        "only referrers of this artifact type (repeatable)",
        collect,
      )
      .option("--recursive", "also list the referrers of each referrer")
      .addOption(
        new Option("--format <format>", "output: an OCI index as JSON, or an indented tree")
          .choices(["json", "tree"]).default("json"),
      ),
  )
    .action((ref, flags) =>
      run(
        "referrers",
        ref,
        async () => (await import("./lib/cli/referrers.ts")).runReferrers(ref, flags),
      )
    );

  root.command("login")
    .description("Check credentials against a registry and store them.")
    .argument("<registry>", "registry host, e.g. registry.example:5000")
    .option("-u, --username <user>", "user name")
    .option(
      "-p, --password <password>",
      "password (visible to other processes; prefer --password-stdin)",
    )
    .option("--password-stdin", "read the password from standard input")
    .addOption(authfileOption())
    .addOption(certDirOption())
    .option(...tlsVerifyOption("--tls-verify", "the registry"), parseBool, true)
    .addOption(debugOption())
    .action((registry, flags) =>
      run(
        "login",
        registry,
        async () => (await import("./lib/cli/login.ts")).runLogin(registry, flags),
      )
    );

  registryFlags(
    root.command("tag")
      .description("Give the manifest REF names new tags in its repository (no blob moves).")
      .argument("<ref>", "image, e.g. docker://registry.example/app:1")
      .argument("<newtag...>", "tags to add, e.g. stable"),
  )
    .action((ref, tags, flags) =>
      run("tag", ref, async () => (await import("./lib/cli/tag.ts")).runTag(ref, tags, flags))
    );

  registryFlags(
    root.command("delete")
      .description("Delete a manifest by digest, or a tag.")
      .argument("<ref>", "e.g. docker://registry.example/app@sha256:… or …/app:old"),
  )
    .action((ref, flags) =>
      run("delete", ref, async () => (await import("./lib/cli/delete.ts")).runDelete(ref, flags))
    );

  registryFlags(
    root.command("digest")
      .description("Print the digest of the manifest REF names (one HEAD).")
      .argument("<ref>", "image, e.g. docker://registry.example/app:1")
      .option("--platform <os/arch[/variant]>", "the digest of this platform's image in an index"),
  )
    .action((ref, flags) =>
      run("digest", ref, async () => (await import("./lib/cli/digest.ts")).runDigest(ref, flags))
    );

  registryFlags(
    root.command("catalog")
      .description("List every repository of a registry.")
      .argument("<registry>", "registry host, e.g. registry.example:5000 (or oci:DIR)"),
  )
    .action((registry, flags) =>
      run(
        "catalog",
        registry,
        async () => (await import("./lib/cli/catalog.ts")).runCatalog(registry, flags),
      )
    );

  root.command("serve")
    .description("Serve an OCI layout as a registry (OCI distribution spec v1.1).")
    .option("--addr <host:port>", "address to listen on", "127.0.0.1:5000")
    .option("--storage <dir>", "OCI layout to serve, created if missing (default: temporary)")
    .option("--read-only", "refuse pushes and deletes")
    .option("--htpasswd <file>", "require Basic auth against this htpasswd file (bcrypt)")
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate")
    .option("--tls-key <file>", "the PEM key of --tls-cert")
    .option("--quiet", "no access log")
    .action((flags) =>
      run(
        "serve",
        flags.addr,
        async () => (await import("./lib/cli/serve.ts")).runServe(flags),
      )
    );

  root.command("logout")
    .description("Remove stored credentials for a registry.")
    .argument("<registry>", "registry host")
    .addOption(authfileOption())
    .action((registry, flags) =>
      run(
        "logout",
        registry,
        async () => (await import("./lib/cli/login.ts")).runLogout(registry, flags),
      )
    );
  return root;
}

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
  await loadFramework();
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
