/**
 * The one owner of authentication state in a run: each registry's
 * challenge, and bearer tokens cached per registry and scope until they
 * expire. Implements Docker's token authentication (distribution's
 * docs/spec/auth/token.md) and Basic.
 *
 * @module
 */
import { AuthError, DtoolError } from "../errors.ts";
import type { Challenge } from "./challenge.ts";
import { basicAuthorization, type Credentials } from "./credentials.ts";

/** Sends a request on the registry client's transport (tracing, TLS, retries). */
export type Send = (url: string, init: RequestInit) => Promise<Response>;

/** Where the authorizer gets credentials and how it reaches token servers. */
export interface AuthorizerOptions {
  /** Credentials for a registry host, if any. */
  credentials: (host: string) => Promise<Credentials | undefined>;
  /** Transport for token requests. */
  send: Send;
  /** Clock, for tests of expiry. */
  now?: () => number;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

const DEFAULT_TOKEN_LIFETIME_S = 60;

/**
 * Builds Authorization headers for registry requests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Authorizer } from "./authorizer.ts";
 * const a = new Authorizer({ credentials: async () => undefined, send: fetch });
 * a.setChallenges("localhost:5000", []);
 * assert.deepEqual(await a.authorize("localhost:5000", "repository:x:pull"), undefined);
 * ```
 */
export class Authorizer {
  #opts: AuthorizerOptions;
  #challenges = new Map<string, Challenge[]>();
  #tokens = new Map<string, Promise<CachedToken>>();
  /** Number of token requests made, for tests and `--debug`. */
  tokenRequests = 0;

  /** Creates an authorizer with no state. */
  constructor(opts: AuthorizerOptions) {
    this.#opts = opts;
  }

  /** Records what a registry asked for (from its `/v2/` ping or a 401). */
  setChallenges(host: string, challenges: Challenge[]): void {
    this.#challenges.set(host, challenges);
  }

  /** Forgets the cached token for a scope, after the registry refused it. */
  invalidate(host: string, scope: string): void {
    this.#tokens.delete(`${host} ${scope}`);
  }

  /** The Authorization header value for a request needing `scope`, if any. */
  async authorize(host: string, scope: string | undefined): Promise<string | undefined> {
    const challenges = this.#challenges.get(host) ?? [];
    const bearer = challenges.find((c) => c.scheme === "bearer");
    if (bearer) {
      const key = `${host} ${scope ?? ""}`;
      for (;;) {
        const cached = this.#tokens.get(key);
        if (!cached) {
          const fresh = this.#fetchToken(host, bearer, scope);
          this.#tokens.set(key, fresh);
          fresh.catch(() => {
            if (this.#tokens.get(key) === fresh) this.#tokens.delete(key);
          });
          return `Bearer ${(await fresh).token}`;
        }
        const t = await cached.catch(() => undefined);
        if (t && t.expiresAt > (this.#opts.now ?? Date.now)()) return `Bearer ${t.token}`;
        // Expired or failed: the first waiter to notice replaces it, the rest reuse that.
        if (this.#tokens.get(key) === cached) this.#tokens.delete(key);
      }
    }
    if (challenges.some((c) => c.scheme === "basic")) {
      const creds = await this.#opts.credentials(host);
      if (creds && !creds.identityToken && !creds.registryToken) {
        return basicAuthorization(creds.username, creds.password);
      }
    }
    return undefined;
  }

  #send(url: URL, init: RequestInit): Promise<Response> {
    return this.#opts.send(url.href, init);
  }

  async #fetchToken(host: string, c: Challenge, scope: string | undefined): Promise<CachedToken> {
    const realm = c.params.realm;
    if (!realm) throw new DtoolError(`registry ${host} sent a bearer challenge with no realm`);
    const url = new URL(realm);
    if (c.params.service) url.searchParams.set("service", c.params.service);
    for (const s of (scope ?? c.params.scope ?? "").split(" ").filter(Boolean)) {
      url.searchParams.append("scope", s);
    }
    const creds = await this.#opts.credentials(host);
    if (creds?.registryToken) {
      // A registry token is the bearer token itself (docker's `registrytoken`).
      return { token: creds.registryToken, expiresAt: Number.MAX_SAFE_INTEGER };
    }
    this.tokenRequests++;
    const started = (this.#opts.now ?? Date.now)();
    let res = creds?.identityToken
      ? await this.#send(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "refresh_token",
          refresh_token: creds.identityToken,
          service: c.params.service ?? "",
          scope: url.searchParams.getAll("scope").join(" "),
          client_id: "dtool",
        }).toString(),
      })
      : undefined;
    if (!res || res.status === 404 || res.status === 405) {
      // No OAuth2 at this realm: the classic GET, with Basic credentials if any.
      await res?.body?.cancel();
      const headers: Record<string, string> = {};
      const secret = creds?.identityToken ?? creds?.password;
      if (creds && secret !== undefined) {
        headers.authorization = basicAuthorization(creds.username, secret);
      }
      res = await this.#send(url, { headers });
    }
    // 400 is how OAuth2 token endpoints refuse a grant (invalid_grant): also a refusal.
    if (res.status === 401 || res.status === 403 || (res.status === 400 && creds)) {
      await res.body?.cancel();
      throw new AuthError(
        creds
          ? `authentication to ${host} failed: invalid username or password`
          : `authentication required by ${host}`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new DtoolError(`token request to ${url.host} failed: HTTP ${res.status}`);
    }
    const body = await res.json().catch(() => ({})) as Record<string, unknown>;
    const token = (body.token ?? body.access_token) as string | undefined;
    if (typeof token !== "string" || token === "") {
      throw new DtoolError(`token server ${url.host} returned no token`);
    }
    const lifetime = typeof body.expires_in === "number" && body.expires_in > 0
      ? body.expires_in
      : DEFAULT_TOKEN_LIFETIME_S;
    // Renew a little early so a token never expires in flight.
    return { token, expiresAt: started + Math.max(1, lifetime - 5) * 1000 };
  }
}
