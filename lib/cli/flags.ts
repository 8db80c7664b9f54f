/**
 * Parsers of flag values. Kept apart from the rest of the CLI, and free of
 * commander, so that parsing a command loads nothing it does not need.
 *
 * @module
 */

/**
 * A flag value that does not parse. It carries commander's code for an
 * invalid argument, so commander reports it as its own (`option '--jobs
 * <n>' argument '0' is invalid. …`) while this file, loaded by the quick
 * path that parses without commander, need not import commander at all.
 */
export class InvalidArgumentError extends Error {
  /** The code commander recognises. */
  readonly code = "commander.invalidArgument";
  /** The exit code commander uses for it. */
  readonly exitCode = 1;
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "InvalidArgumentError";
  }
}

/** Parses skopeo-style booleans: `--tls-verify=false`. */
export function parseBool(value: string): boolean {
  const v = value.toLowerCase();
  if (["true", "1", "yes"].includes(v)) return true;
  if (["false", "0", "no"].includes(v)) return false;
  throw new InvalidArgumentError(`expected true or false, got ${JSON.stringify(value)}`);
}

/** Parses a whole number flag (0 or more): `--retry-times`. */
export function parseWholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(`expected a whole number, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Parses a count that must be at least 1: `--jobs`. */
export function parsePositiveInt(value: string): number {
  const n = parseWholeNumber(value);
  if (n < 1) throw new InvalidArgumentError(`expected 1 or more, got ${JSON.stringify(value)}`);
  return n;
}

/** Parses a duration such as `500ms`, `2s` or `1m` (a bare number is seconds) into milliseconds. */
export function parseDuration(value: string): number {
  const m = value.trim().match(/^(\d+(?:\.\d+)?)(ms|s|m)?$/);
  if (!m) {
    throw new InvalidArgumentError(
      `expected a duration like 500ms or 2s, got ${JSON.stringify(value)}`,
    );
  }
  const n = Number(m[1]);
  return Math.round(m[2] === "ms" ? n : m[2] === "m" ? n * 60_000 : n * 1000);
}

/** Parses a size such as `512KiB`, `5MiB`, `5M` or `1048576` into bytes. */
export function parseSize(value: string): number {
  const m = value.trim().match(/^(\d+)\s*([KMG]i?B?|B)?$/i);
  if (!m) throw new InvalidArgumentError(`expected a size like 5MiB, got ${JSON.stringify(value)}`);
  const unit = (m[2] ?? "").toUpperCase()[0];
  const factor = unit === "K" ? 1024 : unit === "M" ? 1024 ** 2 : unit === "G" ? 1024 ** 3 : 1;
  const n = Number(m[1]) * factor;
  if (n <= 0) throw new InvalidArgumentError("size must be more than 0");
  return n;
}

/** Accumulates a repeatable flag. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
