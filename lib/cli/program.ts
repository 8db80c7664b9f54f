/**
 * The command tree of `dtool` in the command framework (commander): help,
 * mistakes and the commands the quick parser (quick_parse.ts) leaves to it.
 * Loading commander costs ~40 ms, so cli.ts imports this module only for
 * those command lines.
 *
 * @module
 */
import { Command, Option } from "./deps.ts";
import {
  collect,
  parseBool,
  parseDuration,
  parsePositiveInt,
  parseSize,
  parseWholeNumber,
} from "./flags.ts";
import { versionLine } from "../version.ts";

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
function registryFlags(command: Command): Command {
  return command
    .addOption(credsOption())
    .addOption(authfileOption())
    .addOption(certDirOption())
    .option(...tlsVerifyOption("--tls-verify", "the registry"), parseBool, true)
    .addOption(debugOption());
}

/** Runs a command's action, so that errors are reported in one place (cli.ts). */
export type Runner = (operation: string, reference: string, action: () => Promise<void>) => void;

/**
 * Builds the command tree; `run` receives each action so errors stay in one
 * place.
 *
 * @example
 * ```ts
 * import { program } from "./program.ts";
 * const help = program(() => {}).helpInformation();
 * if (!help.includes("list-tags")) throw new Error(help);
 * ```
 */
export function program(
  run: Runner,
) {
  /**
   * An action that runs a command's function, loaded on first use, through `run`, named by
   * its first argument. Commander passes the arguments, then the flags (and the command).
   */
  // deno-lint-ignore no-explicit-any
  const lazy = (operation: string, load: () => Promise<(...args: any[]) => Promise<void>>) =>
  (
    ...args: unknown[]
  ) => run(operation, String(args[0]), async () => (await load())(...args));
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
    .action(lazy("copy", async () => (await import("./copy.ts")).runCopy));

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
    .action(lazy("sync", async () => (await import("./sync.ts")).runSync));

  registryFlags(
    root.command("inspect")
      .description("Show an image's metadata without pulling its layers.")
      .argument("<ref>", "image, e.g. docker://registry.example/app:1")
      .option("--raw", "print the manifest bytes exactly as served")
      .option("--config", "print the image config bytes exactly as stored")
      .option("--platform <os/arch[/variant]>", "platform to choose from an index")
      .option("--no-tags", "do not list the repository's tags"),
  )
    .action(lazy("inspect", async () => (await import("./inspect.ts")).runInspect));

  registryFlags(
    root.command("list-tags")
      .description("List every tag of a repository.")
      .argument("<repo>", "repository, e.g. docker://registry.example/app"),
  )
    .action(lazy("list-tags", async () => (await import("./list_tags.ts")).runListTags));
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
    .action(lazy("referrers", async () => (await import("./referrers.ts")).runReferrers));

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
    .action(lazy("login", async () => (await import("./login.ts")).runLogin));

  registryFlags(
    root.command("tag")
      .description("Give the manifest REF names new tags in its repository (no blob moves).")
      .argument("<ref>", "image, e.g. docker://registry.example/app:1")
      .argument("<newtag...>", "tags to add, e.g. stable"),
  )
    .action(lazy("tag", async () => (await import("./tag.ts")).runTag));

  registryFlags(
    root.command("delete")
      .description("Delete a manifest by digest, or a tag.")
      .argument("<ref>", "e.g. docker://registry.example/app@sha256:… or …/app:old"),
  )
    .action(lazy("delete", async () => (await import("./delete.ts")).runDelete));

  registryFlags(
    root.command("digest")
      .description("Print the digest of the manifest REF names (one HEAD).")
      .argument("<ref>", "image, e.g. docker://registry.example/app:1")
      .option("--platform <os/arch[/variant]>", "the digest of this platform's image in an index"),
  )
    .action(lazy("digest", async () => (await import("./digest.ts")).runDigest));

  registryFlags(
    root.command("catalog")
      .description("List every repository of a registry.")
      .argument("<registry>", "registry host, e.g. registry.example:5000 (or oci:DIR)"),
  )
    .action(lazy("catalog", async () => (await import("./catalog.ts")).runCatalog));

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
        async () => (await import("./serve.ts")).runServe(flags),
      )
    );

  root.command("logout")
    .description("Remove stored credentials for a registry.")
    .argument("<registry>", "registry host")
    .addOption(authfileOption())
    .action(lazy("logout", async () => (await import("./login.ts")).runLogout));
  return root;
}
