import assert from "node:assert/strict";
import { parseChallenges } from "../../lib/auth/challenge.ts";

Deno.test("parseChallenges reads a Bearer challenge with realm, service and scope", () => {
  const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",' +
    'scope="repository:library/ubuntu:pull"';
  assert.deepEqual(parseChallenges(header), [{
    scheme: "bearer",
    params: {
      realm: "https://auth.docker.io/token",
      service: "registry.docker.io",
      scope: "repository:library/ubuntu:pull",
    },
  }]);
});

Deno.test("parseChallenges keeps commas and colons inside a quoted scope", () => {
  const header = 'Bearer realm="https://r.example/token?a=1,b=2",' +
    'scope="repository:team/app:pull,push repository:team/base:pull",service="r.example:443"';
  const [c] = parseChallenges(header);
  assert.equal(c.scheme, "bearer");
  assert.equal(c.params.scope, "repository:team/app:pull,push repository:team/base:pull");
  assert.equal(c.params.realm, "https://r.example/token?a=1,b=2");
  assert.equal(c.params.service, "r.example:443");
  assert.equal(Object.keys(c.params).length, 3);
});

Deno.test("parseChallenges reads a Basic challenge and its realm", () => {
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [
    { scheme: "basic", params: { realm: "Registry Realm" } },
  ]);
});

Deno.test("parseChallenges reads a scheme with no parameters", () => {
  assert.deepEqual(parseChallenges("Basic"), [{ scheme: "basic", params: {} }]);
});

Deno.test("parseChallenges lower-cases schemes and parameter names but not values", () => {
  const [c] = parseChallenges('BEARER Realm="https://A.example/Token",SERVICE="Reg"');
  assert.equal(c.scheme, "bearer");
  assert.deepEqual(c.params, { realm: "https://A.example/Token", service: "Reg" });
});

Deno.test("parseChallenges reads several challenges in one header", () => {
  const header = 'Basic realm="basic realm", Bearer realm="https://a/token",service="reg",' +
    'scope="repository:x:pull"';
  assert.deepEqual(parseChallenges(header), [
    { scheme: "basic", params: { realm: "basic realm" } },
    {
      scheme: "bearer",
      params: { realm: "https://a/token", service: "reg", scope: "repository:x:pull" },
    },
  ]);
});

Deno.test("parseChallenges separates a parameterless challenge from the next one", () => {
  const got = parseChallenges('Negotiate, Basic realm="r"');
  assert.deepEqual(got, [
    { scheme: "negotiate", params: {} },
    { scheme: "basic", params: { realm: "r" } },
  ]);
});

Deno.test("parseChallenges unescapes backslash-quoted characters in quoted values", () => {
  const [c] = parseChallenges('Bearer realm="say \\"hi\\"",error="a\\\\b",service="x"');
  assert.equal(c.params.realm, 'say "hi"');
  assert.equal(c.params.error, "a\\b");
  assert.equal(c.params.service, "x");
});

Deno.test("parseChallenges reads unquoted token values", () => {
  const [c] = parseChallenges(
    'Bearer realm="https://a/token", error=insufficient_scope, service=registry.example',
  );
  assert.deepEqual(c.params, {
    realm: "https://a/token",
    error: "insufficient_scope",
    service: "registry.example",
  });
});

Deno.test("parseChallenges tolerates spaces around = and commas", () => {
  const [c] = parseChallenges('Bearer  realm = "https://a/token" ,  service = "reg"');
  assert.deepEqual(c.params, { realm: "https://a/token", service: "reg" });
});

Deno.test("parseChallenges reads an empty quoted value", () => {
  const [c] = parseChallenges('Bearer realm="",service="s"');
  assert.deepEqual(c.params, { realm: "", service: "s" });
});

Deno.test("parseChallenges returns no challenge for an empty, null or undefined header", () => {
  assert.deepEqual(parseChallenges(""), []);
  assert.deepEqual(parseChallenges(null), []);
  assert.deepEqual(parseChallenges(undefined), []);
  assert.deepEqual(parseChallenges("   "), []);
  assert.deepEqual(parseChallenges(" , ,"), []);
});

Deno.test("parseChallenges terminates on garbage and an unterminated quote", () => {
  assert.deepEqual(parseChallenges("@@@"), []);
  const [c] = parseChallenges('Bearer realm="https://a/token');
  assert.equal(c.scheme, "bearer");
  assert.equal(c.params.realm, "https://a/token");
});
