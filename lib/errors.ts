/**
 * The errors users see. Each carries the exit code the CLI returns for it, so
 * `cli.ts` maps any failure to a code without knowing where it came from.
 *
 * @module
 */

/** Exit codes of the `dtool` command, one per kind of failure. */
export const ExitCode = {
  /** Anything not covered below: network failure, registry error, digest mismatch. */
  Failure: 1,
  /** Bad command line or bad input: a malformed reference, platform or flag. */
  Usage: 2,
  /** The registry refused the credentials (or their absence). */
  Auth: 3,
  /** The image, tag, repository or blob does not exist. */
  NotFound: 4,
} as const;

/** One of the values of {@linkcode ExitCode}. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/**
 * Base class of every error dtool raises on purpose. Its message is one line
 * fit to show a user as is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DtoolError, ExitCode } from "./errors.ts";
 * const e = new DtoolError("something broke");
 * assert.equal(e.exitCode === ExitCode.Failure, true);
 * ```
 */
export class DtoolError extends Error {
  /** The exit code the CLI uses for this error. */
  readonly exitCode: ExitCode;
  /** The HTTP status of the response that caused it, when a registry answered. */
  status?: number;
  /** The registry's error codes from the response body (`MANIFEST_UNKNOWN`, `DENIED`…). */
  codes?: readonly string[];
  /** Creates the error with a one-line message and an exit code. */
  constructor(message: string, exitCode: ExitCode = ExitCode.Failure, options?: ErrorOptions) {
    super(message, options);
    this.name = "DtoolError";
    this.exitCode = exitCode;
  }
}

/** Bad input from the user: a malformed reference, platform, digest or flag value. */
export class UsageError extends DtoolError {
  /** Creates a usage error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Usage, options);
    this.name = "UsageError";
  }
}

/**
 * A reference that does not follow the docker reference grammar. Messages use
 * distribution/reference's wording, e.g. `invalid reference format`.
 */
export class InvalidReferenceError extends UsageError {
  /** Creates the error; `message` is the upstream wording. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidReferenceError";
  }
}

/** A platform string or object that cannot be understood. */
export class InvalidPlatformError extends UsageError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidPlatformError";
  }
}

/** A digest string that is malformed or uses an unsupported algorithm. */
export class InvalidDigestError extends UsageError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidDigestError";
  }
}

/** Content whose bytes do not hash to the digest, or whose length is not the size, expected. */
export class DigestMismatchError extends DtoolError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Failure, options);
    this.name = "DigestMismatchError";
  }
}

/**
 * A failure that no lower layer has retried and that trying the whole
 * transfer again may fix: a streamed upload the registry refused with a
 * 5xx or lost midway, a manifest body cut short. The copy engine tries
 * these again (and content with the wrong digest); every other failure has
 * had its retries in the HTTP layer or the fetcher already.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TransientError } from "./errors.ts";
 * const e = new TransientError("upload of sha256:… lost midway");
 * assert.deepEqual(e.exitCode, 1);
 * ```
 */
export class TransientError extends DtoolError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Failure, options);
    this.name = "TransientError";
  }
}

/** A manifest or index document that cannot be used (bad JSON, schema 1, missing fields…). */
export class InvalidManifestError extends DtoolError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Failure, options);
    this.name = "InvalidManifestError";
  }
}

/** The registry refused access: wrong or missing credentials. */
export class AuthError extends DtoolError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Auth, options);
    this.name = "AuthError";
  }
}

/** The image, tag, repository or blob does not exist. */
export class NotFoundError extends DtoolError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.NotFound, options);
    this.name = "NotFoundError";
  }
}

/**
 * A referrers index (a fallback tag) that is not an index of referrers: a
 * warning for the copy of the image it belongs to, never its failure.
 */
export class ReferrersIndexError extends DtoolError {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.Failure, options);
    this.name = "ReferrersIndexError";
  }
}

/**
 * Wraps an error with the operation and reference it happened in, keeping
 * its exit code: `copy docker://x/y:1: manifest unknown`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotFoundError, withContext } from "./errors.ts";
 * const e = withContext("inspect", "docker://localhost:5000/a:1", new NotFoundError("manifest unknown"));
 * assert.deepEqual(e.message, "inspect docker://localhost:5000/a:1: manifest unknown");
 * ```
 */
export function withContext(operation: string, reference: string, err: unknown): DtoolError {
  const reason = err instanceof Error ? err.message : String(err);
  const code = err instanceof DtoolError ? err.exitCode : ExitCode.Failure;
  return new DtoolError(`${operation} ${reference}: ${reason}`, code, { cause: err });
}
