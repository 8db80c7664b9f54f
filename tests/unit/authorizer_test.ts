import assert from "node:assert/strict";
import { Authorizer, type Send } from "../../lib/auth/authorizer.ts";
import { type Challenge, parseChallenges } from "../../lib/auth/challenge.ts";
import type { Credentials } from "../../lib/auth/credentials.ts";
import { AuthError, DtoolError, ExitCode } from "../../lib/errors.ts";

const HOST = "registry.example:5000";
const REALM = "https://auth.example/token";
const BEARER: Challenge[] = parseChallenges(`Bearer realm="${REALM}",service="registry.example"`);
const BASIC: Challenge[] = parseChallenges('Basic realm="Registry"');

interface Call {
  url: URL;
  init: RequestInit;
}

/**
 * A fake token server: records each request and answers with `respond`
 * (default: a fresh token per request, `tok-1`, `tok-2`, …).
 */
function fakeSend(respond?: (call: Call, n: number) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const send: Send = async (url, init) => {
    const call = { url: new URL(url), init };
    calls.push(call);
    await Promise.resolve(); // answer asynchronously, like a network would
    return respond ? respond(call, calls.length) : Response.json({ token: `tok-${calls.length}` });
  };
  return { send, calls };
}

function authorizer(
  send: Send,
  opts: { creds?: Credentials; now?: () => number; challenges?: Challenge[] } = {},
) {
  const credentialHosts: string[] = [];
  const a = new Authorizer({
    credentials: (host) => {
      credentialHosts.push(host);
      return Promise.resolve(opts.creds);
    },
    send,
    now: opts.now,
  });
  a.setChallenges(HOST, opts.challenges ?? BEARER);
  return { a, credentialHosts };
}

function authHeader(init: RequestInit): string | null {
  return new Headers(init.headers).get("authorization");
}

Deno.test("authorize gives no header when the registry sent no challenge", async () => {
  const { send, calls } = fakeSend();
  const { a } = authorizer(send, { challenges: [], creds: { username: "u", password: "p" } });
  assert.equal(await a.authorize(HOST, "repository:x:pull"), undefined);
  assert.equal(await a.authorize("unknown.example", "repository:x:pull"), undefined);
  assert.equal(calls.length, 0);
});

Deno.test("authorize answers a Basic challenge with the credentials as a Basic header", async () => {
  const { send, calls } = fakeSend();
  const { a, credentialHosts } = authorizer(send, {
    challenges: BASIC,
    creds: { username: "alice", password: "pa:ss" },
  });
  const header = await a.authorize(HOST, "repository:x:pull");
  assert.equal(header, `Basic ${btoa("alice:pa:ss")}`);
  assert.deepEqual(credentialHosts, [HOST]);
  assert.equal(calls.length, 0, "Basic needs no token request");
  assert.equal(a.tokenRequests, 0);
});

Deno.test("authorize gives no header for a Basic challenge without credentials", async () => {
  const { send } = fakeSend();
  const { a } = authorizer(send, { challenges: BASIC });
  assert.equal(await a.authorize(HOST, undefined), undefined);
});

Deno.test("authorize prefers Bearer when both Basic and Bearer are offered", async () => {
  const { send, calls } = fakeSend();
  const { a } = authorizer(send, {
    challenges: [...BASIC, ...BEARER],
    creds: { username: "u", password: "p" },
  });
  assert.equal(await a.authorize(HOST, "repository:x:pull"), "Bearer tok-1");
  assert.equal(calls.length, 1);
});

Deno.test("authorize fetches a bearer token once per scope and reuses it", async () => {
  const { send, calls } = fakeSend();
  const { a } = authorizer(send);
  assert.equal(await a.authorize(HOST, "repository:app:pull"), "Bearer tok-1");
  assert.equal(await a.authorize(HOST, "repository:app:pull"), "Bearer tok-1");
  assert.equal(await a.authorize(HOST, "repository:app:pull"), "Bearer tok-1");
  assert.equal(calls.length, 1);
  assert.equal(a.tokenRequests, 1);
});

Deno.test("authorize makes one token request for concurrent calls with the same scope", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const { send, calls } = fakeSend(async (_call, n) => {
    await gate;
    return Response.json({ token: `tok-${n}` });
  });
  const { a } = authorizer(send);
  const pending = Array.from({ length: 8 }, () => a.authorize(HOST, "repository:app:pull"));
  await new Promise((r) => setTimeout(r, 0));
  release();
  const headers = await Promise.all(pending);
  assert.deepEqual(headers, Array(8).fill("Bearer tok-1"));
  assert.equal(calls.length, 1);
  assert.equal(a.tokenRequests, 1);
});

Deno.test("authorize fetches another token for a different scope", async () => {
  const { send, calls } = fakeSend();
  const { a } = authorizer(send);
  assert.equal(await a.authorize(HOST, "repository:app:pull"), "Bearer tok-1");
  assert.equal(await a.authorize(HOST, "repository:app:pull,push"), "Bearer tok-2");
  assert.equal(await a.authorize(HOST, "repository:other:pull"), "Bearer tok-3");
  assert.equal(await a.authorize(HOST, "repository:app:pull"), "Bearer tok-1");
  assert.equal(calls.length, 3);
  assert.deepEqual(calls.map((c) => c.url.searchParams.getAll("scope")), [
    ["repository:app:pull"],
    ["repository:app:pull,push"],
    ["repository:other:pull"],
  ]);
});

Deno.test("authorize keeps tokens apart per registry host", async () => {
  const { send, calls } = fakeSend();
  const { a } = authorizer(send);
  a.setChallenges("other.example", BEARER);
  assert.equal(await a.authorize(HOST, "repository:app:pull"), "Bearer tok-1");
  assert.equal(await a.authorize("other.example", "repository:app:pull"), "Bearer tok-2");
  assert.equal(calls.length, 2);
});

Deno.test("authorize refetches a token once it has expired (default lifetime 60 s)", async () => {
  let clock = 1_000_000;
  const { send, calls } = fakeSend();
  const { a } = authorizer(send, { now: () => clock });
  assert.equal(await a.authorize(HOST, "repository:app:pull"), "Bearer tok-1");
  clock += 30_000;
  assert.equal(await a.authorize(HOST, "repository:app:pull"), "Bearer tok-1");
  clock += 60_000;
  assert.equal(await a.authorize(HOST, "repository:app:pull"), "Bearer tok-2");
  assert.equal(calls.length, 2);
});

Deno.test("authorize respects expires_in, renewing a few seconds early", async () => {
  let clock = 0;
  const { send, calls } = fakeSend((_c, n) =>
    Response.json({ token: `tok-${n}`, expires_in: 300 })
  );
  const { a } = authorizer(send, { now: () => clock });
  assert.equal(await a.authorize(HOST, "s"), "Bearer tok-1");
  clock = 120_000; // past the 60 s default, well within 300 s
  assert.equal(await a.authorize(HOST, "s"), "Bearer tok-1");
  clock = 280_000;
  assert.equal(await a.authorize(HOST, "s"), "Bearer tok-1");
  assert.equal(calls.length, 1);
  clock = 300_000; // at expiry: must not be used
  assert.equal(await a.authorize(HOST, "s"), "Bearer tok-2");
  assert.equal(calls.length, 2);
});

Deno.test("authorize treats a short expires_in as short", async () => {
  let clock = 0;
  const { send, calls } = fakeSend((_c, n) => Response.json({ token: `tok-${n}`, expires_in: 10 }));
  const { a } = authorizer(send, { now: () => clock });
  assert.equal(await a.authorize(HOST, "s"), "Bearer tok-1");
  clock = 11_000;
  assert.equal(await a.authorize(HOST, "s"), "Bearer tok-2");
  assert.equal(calls.length, 2);
});

Deno.test("authorize ignores a non-positive expires_in and uses the default lifetime", async () => {
  let clock = 0;
  const { send, calls } = fakeSend((_c, n) => Response.json({ token: `tok-${n}`, expires_in: 0 }));
  const { a } = authorizer(send, { now: () => clock });
  await a.authorize(HOST, "s");
  clock = 30_000;
  assert.equal(await a.authorize(HOST, "s"), "Bearer tok-1");
  assert.equal(calls.length, 1);
});

Deno.test("authorize accepts the token in access_token", async () => {
  const { send } = fakeSend(() => Response.json({ access_token: "oauth-tok" }));
  const { a } = authorizer(send);
  assert.equal(await a.authorize(HOST, "repository:x:pull"), "Bearer oauth-tok");
});

Deno.test("authorize prefers token over access_token when both are present", async () => {
  const { send } = fakeSend(() => Response.json({ token: "t", access_token: "at" }));
  const { a } = authorizer(send);
  assert.equal(await a.authorize(HOST, "repository:x:pull"), "Bearer t");
});

Deno.test("authorize fails when the token server returns no token", async () => {
  for (const body of [{}, { token: "" }, { token: 42 }]) {
    const { send } = fakeSend(() => Response.json(body));
    const { a } = authorizer(send);
    await assert.rejects(a.authorize(HOST, "s"), (err: unknown) => {
      assert.ok(err instanceof DtoolError, String(err));
      assert.equal(err.exitCode, ExitCode.Failure);
      assert.match(err.message, /returned no token/);
      return true;
    });
  }
});

Deno.test("a 401 from the token server is an AuthError (exit 3) that does not reveal the password", async () => {
  const password = "Sup3r-S3cret-Pw";
  for (const status of [401, 403]) {
    const { send } = fakeSend(() => new Response("denied", { status }));
    const { a } = authorizer(send, { creds: { username: "alice", password } });
    await assert.rejects(a.authorize(HOST, "repository:x:pull"), (err: unknown) => {
      assert.ok(err instanceof AuthError, String(err));
      assert.equal(err.exitCode, ExitCode.Auth);
      assert.equal(err.exitCode, 3);
      assert.ok(!err.message.includes(password), err.message);
      assert.ok(!err.message.includes(btoa(`alice:${password}`)), err.message);
      assert.ok(err.message.includes(HOST), err.message);
      return true;
    });
  }
});

Deno.test("a 401 from the token server without credentials says authentication is required", async () => {
  const { send } = fakeSend(() => new Response(null, { status: 401 }));
  const { a } = authorizer(send);
  await assert.rejects(a.authorize(HOST, "s"), (err: unknown) => {
    assert.ok(err instanceof AuthError);
    assert.match(err.message, /authentication required/);
    return true;
  });
});

Deno.test("a failed token request is not cached: the next authorize asks again", async () => {
  const { send, calls } = fakeSend((_c, n) =>
    n === 1 ? new Response(null, { status: 401 }) : Response.json({ token: "good" })
  );
  const { a } = authorizer(send);
  await assert.rejects(a.authorize(HOST, "s"), AuthError);
  assert.equal(await a.authorize(HOST, "s"), "Bearer good");
  assert.equal(calls.length, 2);
});

Deno.test("a token server error other than 401/403 is a plain failure naming the status", async () => {
  const { send } = fakeSend(() => new Response("oops", { status: 500 }));
  const { a } = authorizer(send);
  await assert.rejects(a.authorize(HOST, "s"), (err: unknown) => {
    assert.ok(err instanceof DtoolError && !(err instanceof AuthError), String(err));
    assert.equal(err.exitCode, ExitCode.Failure);
    assert.match(err.message, /HTTP 500/);
    return true;
  });
});

Deno.test("a bearer challenge with no realm is an error", async () => {
  const { send, calls } = fakeSend();
  const { a } = authorizer(send, { challenges: parseChallenges('Bearer service="x"') });
  await assert.rejects(a.authorize(HOST, "s"), /no realm/);
  assert.equal(calls.length, 0);
});

Deno.test("the token URL carries service and each scope as a separate scope parameter", async () => {
  const { send, calls } = fakeSend();
  const { a } = authorizer(send, {
    challenges: parseChallenges(`Bearer realm="${REALM}?client=dtool",service="registry.example"`),
  });
  await a.authorize(HOST, "repository:team/app:pull,push repository:team/base:pull");
  assert.equal(calls.length, 1);
  const url = calls[0].url;
  assert.equal(url.origin + url.pathname, REALM);
  assert.equal(url.searchParams.get("client"), "dtool");
  assert.deepEqual(url.searchParams.getAll("service"), ["registry.example"]);
  assert.deepEqual(url.searchParams.getAll("scope"), [
    "repository:team/app:pull,push",
    "repository:team/base:pull",
  ]);
});

Deno.test("the token URL uses the challenge's scope when the request has none", async () => {
  const { send, calls } = fakeSend();
  const { a } = authorizer(send, {
    challenges: parseChallenges(
      `Bearer realm="${REALM}",service="s",scope="repository:a:pull repository:b:pull"`,
    ),
  });
  await a.authorize(HOST, undefined);
  assert.deepEqual(calls[0].url.searchParams.getAll("scope"), [
    "repository:a:pull",
    "repository:b:pull",
  ]);
});

Deno.test("the token URL has no service parameter when the challenge names none", async () => {
  const { send, calls } = fakeSend();
  const { a } = authorizer(send, { challenges: parseChallenges(`Bearer realm="${REALM}"`) });
  await a.authorize(HOST, "repository:a:pull");
  assert.equal(calls[0].url.searchParams.has("service"), false);
  assert.deepEqual(calls[0].url.searchParams.getAll("scope"), ["repository:a:pull"]);
});

Deno.test("credentials are sent to the realm as Basic, for the registry host", async () => {
  const { send, calls } = fakeSend();
  const { a, credentialHosts } = authorizer(send, {
    creds: { username: "bob", password: "p:w" },
  });
  await a.authorize(HOST, "repository:a:pull");
  assert.equal(authHeader(calls[0].init), `Basic ${btoa("bob:p:w")}`);
  assert.deepEqual(credentialHosts, [HOST]);
});

Deno.test("the realm gets no Authorization header without credentials", async () => {
  const { send, calls } = fakeSend();
  const { a } = authorizer(send);
  await a.authorize(HOST, "repository:a:pull");
  assert.equal(authHeader(calls[0].init), null);
});

Deno.test("invalidate forgets the token of one scope only", async () => {
  const { send, calls } = fakeSend();
  const { a } = authorizer(send);
  assert.equal(await a.authorize(HOST, "s1"), "Bearer tok-1");
  assert.equal(await a.authorize(HOST, "s2"), "Bearer tok-2");
  a.invalidate(HOST, "s1");
  assert.equal(await a.authorize(HOST, "s1"), "Bearer tok-3");
  assert.equal(await a.authorize(HOST, "s2"), "Bearer tok-2");
  assert.equal(calls.length, 3);
});
