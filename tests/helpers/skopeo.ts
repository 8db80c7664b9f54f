/**
 * Thin wrappers around skopeo 1.9.3, used as an independent reference client in tests.
 *
 * Flag notes for 1.9.3: `--insecure-policy` is a *global* flag (before the subcommand);
 * TLS/auth flags are per side for `copy` (`--src-tls-verify=false`, `--dest-tls-verify=false`,
 * `--src-creds`/`--dest-creds`, `--src-cert-dir`/`--dest-cert-dir`) and unprefixed for
 * `inspect` / `list-tags` (`--tls-verify=false`, `--creds`, `--cert-dir`).
 *
 * @module
 */

/** Options common to the convenience wrappers. */
export interface SkopeoAuthOptions {
  /** `user:password` credentials (`--creds`). */
  creds?: string;
  /** Directory with `ca.crt` (see `makeTestCA`); enables TLS verification against it. */
  certDir?: string;
}

/**
 * Runs `skopeo --insecure-policy ARGS...` and returns stdout; throws with stderr on a non-zero
 * exit. Pass full subcommand args, e.g. `["copy", "--dest-tls-verify=false", src, dst]`.
 */
export async function skopeo(args: string[]): Promise<string> {
  const out = await new Deno.Command("skopeo", {
    args: ["--insecure-policy", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `skopeo ${args.join(" ")} failed (exit ${out.code}):\n` +
        new TextDecoder().decode(out.stderr).trim(),
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** Same as {@linkcode skopeo} but returns raw stdout bytes. */
export async function skopeoBytes(args: string[]): Promise<Uint8Array> {
  const out = await new Deno.Command("skopeo", {
    args: ["--insecure-policy", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `skopeo ${args.join(" ")} failed (exit ${out.code}):\n` +
        new TextDecoder().decode(out.stderr).trim(),
    );
  }
  return out.stdout;
}

/** `"127.0.0.1:5000/repo:tag"` → `"docker://127.0.0.1:5000/repo:tag"` (prefix kept if present). */
export function dockerRef(ref: string): string {
  return ref.includes("://") ? ref : `docker://${ref}`;
}

function readFlags(o: SkopeoAuthOptions): string[] {
  const f = o.certDir ? [`--cert-dir=${o.certDir}`] : ["--tls-verify=false"];
  if (o.creds) f.push(`--creds=${o.creds}`);
  return f;
}

/**
 * Exact manifest bytes as served by the registry:
 * `skopeo inspect --raw --tls-verify=false docker://REF`.
 */
export function skopeoInspectRaw(ref: string, opts: SkopeoAuthOptions = {}): Promise<Uint8Array> {
  return skopeoBytes(["inspect", "--raw", ...readFlags(opts), dockerRef(ref)]);
}

/** Parsed `skopeo inspect` output (for a list: the image for the host platform). */
export async function skopeoInspect(
  ref: string,
  opts: SkopeoAuthOptions = {},
): Promise<Record<string, unknown>> {
  return JSON.parse(await skopeo(["inspect", ...readFlags(opts), dockerRef(ref)]));
}

/** `skopeo list-tags` for a repository reference (`127.0.0.1:PORT/repo`), tags in server order. */
export async function skopeoListTags(
  repo: string,
  opts: SkopeoAuthOptions = {},
): Promise<string[]> {
  const out = JSON.parse(await skopeo(["list-tags", ...readFlags(opts), dockerRef(repo)]));
  return out.Tags as string[];
}
