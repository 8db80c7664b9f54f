/**
 * Basic authentication for `dtool serve` against an htpasswd file of bcrypt
 * hashes (as `htpasswd -B` writes them), with the `WWW-Authenticate`
 * challenge registry clients answer.
 *
 * @module
 */
import { bcrypt } from "./deps.ts";
import { createHash } from "node:crypto";
import { UsageError } from "../errors.ts";
import { RegistryError } from "./errors.ts";

/** The realm clients are challenged with. */
export const REALM = "dtool";

/**
 * Reads an htpasswd file: `user:$2y$…` lines; blank lines and `#` comments
 * are skipped; any other hash is refused (only bcrypt is safe to accept).
 *
 * @example
 * ```ts
 * import { parseHtpasswd } from "./auth.ts";
 * const users = parseHtpasswd("alice:$2y$05$" + "a".repeat(53) + "\n", "htpasswd");
 * console.log([...users.keys()]); // ["alice"]
 * ```
 */
export function parseHtpasswd(text: string, file: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "" || line.startsWith("#")) return;
    const colon = line.indexOf(":");
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1).trim();
    if (colon <= 0 || !/^\$2[abxy]?\$\d\d\$/.test(hash)) {
      throw new UsageError(`${file}:${i + 1}: not a bcrypt entry (write it with htpasswd -B)`);
    }
    users.set(user, hash);
  });
  if (users.size === 0) throw new UsageError(`${file}: no users`);
  return users;
}

/**
 * Checks `Authorization: Basic` headers against htpasswd users. A header
 * that passed once is remembered (by its hash) so bcrypt runs once per
 * client, not once per request.
 *
 * @example
 * ```ts ignore
 * import { BasicAuth } from "./auth.ts";
 * const auth = await BasicAuth.fromFile("/etc/dtool/htpasswd");
 * await auth.check(request); // throws UNAUTHORIZED with the challenge
 * ```
 */
export class BasicAuth {
  #users: Map<string, string>;
  #passed = new Set<string>();

  /** Users and their bcrypt hashes. */
  constructor(users: Map<string, string>) {
    this.#users = users;
  }

  /** Reads the users of an htpasswd file. */
  static async fromFile(path: string): Promise<BasicAuth> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      throw new UsageError(`cannot read htpasswd file ${path}: ${(e as Error).message}`);
    }
    return new BasicAuth(parseHtpasswd(text, path));
  }

  /** The challenge header of a 401. */
  challenge(): Record<string, string> {
    return { "www-authenticate": `Basic realm="${REALM}"` };
  }

  /** Passes a request with valid credentials; throws UNAUTHORIZED otherwise. */
  async check(req: Request): Promise<void> {
    const header = req.headers.get("authorization") ?? "";
    const key = createHash("sha256").update(header).digest("hex");
    if (this.#passed.has(key)) return;
    const m = header.match(/^Basic\s+([A-Za-z0-9+/=]+)\s*$/i);
    let ok = false;
    if (m) {
      let decoded = "";
      try {
        decoded = new TextDecoder().decode(Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0)));
      } catch {
        decoded = "";
      }
      const colon = decoded.indexOf(":");
      const hash = colon > 0 ? this.#users.get(decoded.slice(0, colon)) : undefined;
      ok = hash !== undefined && await bcrypt.compare(decoded.slice(colon + 1), hash);
    }
    if (!ok) {
      throw new RegistryError("UNAUTHORIZED", "authentication required", {
        headers: this.challenge(),
      });
    }
    if (this.#passed.size > 10_000) this.#passed.clear();
    this.#passed.add(key);
  }
}
