/**
 * A Docker token-auth server for tests (distribution's docs/spec/auth/token.md and
 * oauth.md): GET /token with Basic or no credentials, POST /token with the
 * OAuth2 refresh_token and password grants. It signs ES256 JWTs with a key whose
 * self-signed certificate the registry trusts (`rootcertbundle`), carried in the
 * JWT's `x5c` header. It records every request so tests can count them.
 */
import { sign } from "node:crypto";
import { selfSignedCert } from "./registry.ts";

/** One request the token server received. */
export interface TokenRequest {
  method: string;
  grant?: string;
  user?: string;
  scopes: string[];
  authorized: boolean;
}

/** A running token server. */
export interface TokenServer {
  /** Realm URL for the registry config. */
  realm: string;
  service: string;
  issuer: string;
  /** The signing certificate: the registry's `rootcertbundle`. */
  certFile: string;
  /** Every request, in order. */
  requests: TokenRequest[];
  /** Every token issued (to check that none leaks). */
  issued: string[];
  /** `expires_in` of the next tokens, in seconds. */
  expiresIn: number;
  /** When true, POST (OAuth2) is refused with 405, as a realm without OAuth2 does. */
  refusePost: boolean;
  /** The `auth:` YAML section for {@linkcode startRegistry}'s `extraConfig`. */
  registryConfig(): string;
  stop(): Promise<void>;
}

/** Options of {@linkcode startTokenServer}. */
export interface TokenServerOptions {
  /** user → password. */
  users: Record<string, string>;
  /** refresh token → user. */
  refreshTokens?: Record<string, string>;
  /** Repositories under this prefix may be pulled anonymously. */
  publicPrefix?: string;
}

const b64url = (b: Uint8Array | string) =>
  (typeof b === "string" ? btoa(b) : btoa(String.fromCharCode(...b)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** Starts the token server with a fresh ES256 key and certificate in `dir`. */
export async function startTokenServer(
  dir: string,
  opts: TokenServerOptions,
): Promise<TokenServer> {
  const keyFile = `${dir}/token-signing.key.pem`;
  const certFile = `${dir}/token-signing.cert.pem`;
  await selfSignedCert(keyFile, certFile, "/CN=dtool test token signer");
  const key = await Deno.readTextFile(keyFile);
  const certPem = await Deno.readTextFile(certFile);
  const x5c = certPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const service = "dtool-test-registry";
  const issuer = "dtool-test-issuer";

  const jwt = (sub: string, access: unknown[], expiresIn: number) => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "ES256", x5c: [x5c] };
    const claims = {
      iss: issuer,
      sub,
      aud: service,
      exp: now + expiresIn,
      nbf: now - 10,
      iat: now,
      jti: crypto.randomUUID(),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign("sha256", new TextEncoder().encode(input), { key, dsaEncoding: "ieee-p1363" });
    return `${input}.${b64url(new Uint8Array(sig))}`;
  };

  const grant = (user: string | undefined, scopes: string[]) =>
    scopes.map((s) => {
      const [type, name, actions] = [s.split(":")[0], s.split(":")[1], s.split(":")[2] ?? ""];
      const wanted = actions.split(",").filter(Boolean);
      const allowed = user
        ? wanted
        : opts.publicPrefix && name.startsWith(opts.publicPrefix)
        ? wanted.filter((a) => a === "pull")
        : [];
      return { type, name, actions: allowed };
    });

  const state = {
    requests: [] as TokenRequest[],
    issued: [] as string[],
    expiresIn: 300,
    refusePost: false,
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname !== "/token") return new Response("not found", { status: 404 });
    let user: string | undefined;
    let scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
    let grantType: string | undefined;
    let authorized = true;
    if (req.method === "POST" && state.refusePost) {
      state.requests.push({ method: "POST", scopes, authorized: false });
      return new Response("method not allowed", { status: 405 });
    }
    if (req.method === "POST") {
      const form = new URLSearchParams(await req.text());
      grantType = form.get("grant_type") ?? undefined;
      scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
      if (grantType === "refresh_token") {
        user = opts.refreshTokens?.[form.get("refresh_token") ?? ""];
        authorized = user !== undefined;
      } else if (grantType === "password") {
        const u = form.get("username") ?? "";
        authorized = opts.users[u] !== undefined && opts.users[u] === form.get("password");
        user = authorized ? u : undefined;
      } else {
        authorized = false;
      }
    } else {
      const auth = req.headers.get("authorization");
      if (auth?.startsWith("Basic ")) {
        const [u, ...rest] = atob(auth.slice(6)).split(":");
        const secret = rest.join(":");
        // A password, or a refresh token sent as the password (docker's GET fallback).
        authorized = (opts.users[u] !== undefined && opts.users[u] === secret) ||
          opts.refreshTokens?.[secret] === u;
        user = authorized ? u : undefined;
      }
    }
    state.requests.push({ method: req.method, grant: grantType, user, scopes, authorized });
    if (!authorized) {
      return Response.json({ errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] }, {
        status: 401,
      });
    }
    const token = jwt(user ?? "", grant(user, scopes), state.expiresIn);
    state.issued.push(token);
    return Response.json({
      token,
      access_token: token,
      expires_in: state.expiresIn,
      issued_at: new Date().toISOString(),
    });
  });
  const realm = `http://127.0.0.1:${server.addr.port}/token`;
  return {
    realm,
    service,
    issuer,
    certFile,
    get requests() {
      return state.requests;
    },
    get issued() {
      return state.issued;
    },
    get expiresIn() {
      return state.expiresIn;
    },
    get refusePost() {
      return state.refusePost;
    },
    set refusePost(v: boolean) {
      state.refusePost = v;
    },
    set expiresIn(v: number) {
      state.expiresIn = v;
    },
    registryConfig: () =>
      `auth:\n  token:\n    realm: ${realm}\n    service: ${service}\n    issuer: ${issuer}\n` +
      `    rootcertbundle: ${certFile}\n`,
    stop: () => server.shutdown(),
  };
}
