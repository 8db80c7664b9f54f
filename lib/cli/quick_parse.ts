/**
 * Parsing of the commands that scripts run most (`copy`, `inspect`,
 * `list-tags`, `digest`, `sync`) without the command framework: loading commander costs about 40 ms, more
 * than the rest of such a command. Only plain, well-formed command lines are
 * parsed here; anything else (help, an unknown or malformed flag, a wrong
 * number of arguments) returns `undefined` and goes to commander, so help
 * and error messages stay exactly commander's. A unit test holds every
 * table entry to commander's own parse of the same command line.
 *
 * @module
 */
import {
  parseBool,
  parseDuration,
  parsePositiveInt,
  parseSize,
  parseWholeNumber,
} from "./flags.ts";

/** How a flag takes its value, in commander's terms. */
type FlagKind =
  /** `--raw`: true when present. */
  | "switch"
  /** `--creds <v>`: the next argument, whatever it looks like, or `--creds=v`. */
  | "value"
  /** `--tls-verify [bool]`: `=v`, or the next argument unless it looks like a flag. */
  | "optional"
  /** `--no-tags`: false when present. */
  | "negate"
  /** `--platform <v>` given again and again: every value, in order. */
  | "repeat";

interface FlagSpec {
  kind: FlagKind;
  /** Key in the flags object (commander's camel case). */
  key: string;
  /** Turns the text into the value; throwing sends the line to commander. */
  parse?: (value: string) => unknown;
}

interface CommandSpec {
  /** Positional arguments, all required. */
  args: number;
  flags: Record<string, FlagSpec>;
  /** Short forms, each alone (`-q`, not `-aq`). */
  short?: Record<string, string>;
  /** The values commander starts from. */
  defaults: Record<string, unknown>;
  /** Keys of mandatory options: a line without one is commander's to refuse. */
  required?: string[];
}

const REGISTRY_FLAGS: Record<string, FlagSpec> = {
  "--creds": { kind: "value", key: "creds" },
  "--authfile": { kind: "value", key: "authfile" },
  "--cert-dir": { kind: "value", key: "certDir" },
  "--tls-verify": { kind: "optional", key: "tlsVerify", parse: parseBool },
  "--debug": { kind: "switch", key: "debug" },
};

/** Flags `copy` and `sync` share: what to copy, both ends' settings, retries and output. */
const TRANSFER_FLAGS: Record<string, FlagSpec> = {
  "--all": { kind: "switch", key: "all" },
  "--platform": { kind: "repeat", key: "platform" },
  "--src-creds": { kind: "value", key: "srcCreds" },
  "--dest-creds": { kind: "value", key: "destCreds" },
  "--authfile": { kind: "value", key: "authfile" },
  "--src-cert-dir": { kind: "value", key: "srcCertDir" },
  "--dest-cert-dir": { kind: "value", key: "destCertDir" },
  "--src-tls-verify": { kind: "optional", key: "srcTlsVerify", parse: parseBool },
  "--dest-tls-verify": { kind: "optional", key: "destTlsVerify", parse: parseBool },
  "--jobs": { kind: "value", key: "jobs", parse: parsePositiveInt },
  "--retry-times": { kind: "value", key: "retryTimes", parse: parseWholeNumber },
  "--retry-delay": { kind: "value", key: "retryDelay", parse: parseDuration },
  "--progress": { kind: "value", key: "progress", parse: oneOf("auto", "tty", "plain", "json") },
  "--referrers": { kind: "switch", key: "referrers" },
  "--referrers-artifact-type": { kind: "repeat", key: "referrersArtifactType" },
  "--digest-tags": { kind: "switch", key: "digestTags" },
  "--quiet": { kind: "switch", key: "quiet" },
  "--debug": { kind: "switch", key: "debug" },
};

/** The commands parsed here, with the flags `cli.ts` gives them. */
export const QUICK_COMMANDS: Readonly<Record<string, CommandSpec>> = {
  "inspect": {
    args: 1,
    flags: {
      ...REGISTRY_FLAGS,
      "--raw": { kind: "switch", key: "raw" },
      "--config": { kind: "switch", key: "config" },
      "--platform": { kind: "value", key: "platform" },
      "--no-tags": { kind: "negate", key: "tags" },
    },
    defaults: { tlsVerify: true, tags: true },
  },
  "list-tags": { args: 1, flags: REGISTRY_FLAGS, defaults: { tlsVerify: true } },
  "digest": {
    args: 1,
    flags: { ...REGISTRY_FLAGS, "--platform": { kind: "value", key: "platform" } },
    defaults: { tlsVerify: true },
  },
  "sync": {
    args: 2,
    flags: {
      ...TRANSFER_FLAGS,
      "--src": { kind: "value", key: "src", parse: oneOf("docker", "yaml", "oci") },
      "--dest": { kind: "value", key: "dest", parse: oneOf("docker", "oci", "dir") },
      "--scoped": { kind: "switch", key: "scoped" },
      "--append-suffix": { kind: "value", key: "appendSuffix" },
      "--dry-run": { kind: "switch", key: "dryRun" },
      "--keep-going": { kind: "switch", key: "keepGoing" },
      "--src-authfile": { kind: "value", key: "srcAuthfile" },
      "--dest-authfile": { kind: "value", key: "destAuthfile" },
      "--shard": { kind: "value", key: "shard" },
    },
    short: { "-s": "--src", "-d": "--dest", "-a": "--all", "-q": "--quiet" },
    defaults: { srcTlsVerify: true, destTlsVerify: true, progress: "auto" },
    required: ["src", "dest"],
  },
  "copy": {
    args: 2,
    flags: {
      ...TRANSFER_FLAGS,
      "--digestfile": { kind: "value", key: "digestfile" },
      "--upload-chunk-size": { kind: "value", key: "uploadChunkSize", parse: parseSize },
      "--additional-tag": { kind: "repeat", key: "additionalTag" },
    },
    short: { "-a": "--all", "-q": "--quiet" },
    defaults: { srcTlsVerify: true, destTlsVerify: true, progress: "auto" },
  },
};

/** A parser accepting only the given words (commander's `.choices`). */
function oneOf(...choices: string[]): (value: string) => string {
  return (value) => {
    if (!choices.includes(value)) throw new Error(`not one of ${choices.join(", ")}`);
    return value;
  };
}

/** A command line parsed without commander. */
export interface QuickCommand {
  /** `copy`, `inspect` or `list-tags`. */
  command: string;
  /** The positional arguments. */
  args: string[];
  /** Flags as commander would give them to the action. */
  flags: Record<string, unknown>;
}

const looksLikeFlag = (arg: string) => arg.length > 1 && arg.startsWith("-");

/**
 * Parses a plain `copy`, `inspect` or `list-tags` command line; `undefined` for
 * anything that commander should see (including every mistake).
 *
 * @example
 * ```ts
 * import { quickParse } from "./quick_parse.ts";
 * const q = quickParse(["list-tags", "--tls-verify=false", "docker://localhost:5000/app"]);
 * if (q?.flags.tlsVerify !== false) throw new Error("expected tlsVerify false");
 * if (quickParse(["list-tags", "--help"]) !== undefined) throw new Error("help is commander's");
 * ```
 */
export function quickParse(argv: readonly string[]): QuickCommand | undefined {
  const [command, ...rest] = argv;
  const spec = Object.hasOwn(QUICK_COMMANDS, command) ? QUICK_COMMANDS[command] : undefined;
  if (!spec) return undefined;
  const flags: Record<string, unknown> = { ...spec.defaults };
  const args: string[] = [];
  try {
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i];
      if (arg === "--") {
        args.push(...rest.slice(i + 1));
        break;
      }
      if (!looksLikeFlag(arg)) {
        args.push(arg);
        continue;
      }
      const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
      const name = eq > 0 ? arg.slice(0, eq) : spec.short?.[arg] ?? arg;
      const flag = Object.hasOwn(spec.flags, name) ? spec.flags[name] : undefined;
      if (!flag || !name.startsWith("--")) return undefined;
      let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : undefined;
      if (flag.kind === "switch" || flag.kind === "negate") {
        if (value !== undefined) return undefined;
        flags[flag.key] = flag.kind === "switch";
        continue;
      }
      if (value === undefined) {
        const next = rest[i + 1];
        if (flag.kind === "value" || flag.kind === "repeat") {
          if (next === undefined) return undefined;
          value = next;
          i++;
        } else if (next !== undefined && !looksLikeFlag(next)) {
          value = next;
          i++;
        }
      }
      if (flag.kind === "repeat") {
        flags[flag.key] = [...(flags[flag.key] as string[] | undefined ?? []), value];
        continue;
      }
      flags[flag.key] = value === undefined ? true : flag.parse ? flag.parse(value) : value;
    }
  } catch {
    return undefined;
  }
  if (spec.required?.some((key) => flags[key] === undefined)) return undefined;
  return args.length === spec.args ? { command, args, flags } : undefined;
}
