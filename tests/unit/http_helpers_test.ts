import assert from "node:assert/strict";
import { redactText } from "../../lib/redact.ts";
import { formatBytes } from "../../lib/cli/terminal.ts";
import { AuthError, DtoolError, ExitCode, NotFoundError } from "../../lib/errors.ts";
import {
  apiHost,
  isLoopbackHost,
  readBody,
  redactUrl,
  responseError,
} from "../../lib/remotes/docker/http.ts";
import { nextLink } from "../../lib/remotes/docker/tags.ts";

// --- nextLink ---

Deno.test("nextLink returns the URL of a rel=next Link header", () => {
  assert.equal(
    nextLink('</v2/app/tags/list?n=2&last=b>; rel="next"'),
    "/v2/app/tags/list?n=2&last=b",
  );
});

Deno.test("nextLink accepts an unquoted rel and absolute URLs", () => {
  assert.equal(
    nextLink("<https://r.example/v2/app/tags/list?last=x>; rel=next"),
    "https://r.example/v2/app/tags/list?last=x",
  );
  assert.equal(nextLink('</v2/a/tags/list?last=c>;rel="next"'), "/v2/a/tags/list?last=c");
  assert.equal(nextLink('</v2/a/tags/list?last=c> ; REL="Next"'), "/v2/a/tags/list?last=c");
});

Deno.test("nextLink picks the next link among several", () => {
  assert.equal(
    nextLink('</v2/a/tags/list?last=a>; rel="prev", </v2/a/tags/list?last=z>; rel="next"'),
    "/v2/a/tags/list?last=z",
  );
});

Deno.test("nextLink returns undefined when there is no next page", () => {
  assert.equal(nextLink(null), undefined);
  assert.equal(nextLink(""), undefined);
  assert.equal(nextLink('</v2/a/tags/list?last=a>; rel="prev"'), undefined);
  assert.equal(nextLink('</v2/a/tags/list?last=a>; rel="last"'), undefined);
  assert.equal(nextLink("garbage"), undefined);
});

// --- apiHost ---

Deno.test("apiHost maps docker.io to registry-1.docker.io and leaves others alone", () => {
  assert.equal(apiHost("docker.io"), "registry-1.docker.io");
  assert.equal(apiHost("registry-1.docker.io"), "registry-1.docker.io");
  assert.equal(apiHost("localhost:5000"), "localhost:5000");
  assert.equal(apiHost("ghcr.io"), "ghcr.io");
  assert.equal(apiHost("docker.io:443"), "docker.io:443");
});

// --- isLoopbackHost ---

Deno.test("isLoopbackHost accepts localhost, 127.x.y.z and [::1], with or without port", () => {
  for (
    const h of [
      "localhost",
      "localhost:5000",
      "127.0.0.1",
      "127.0.0.1:5000",
      "127.1.2.3:80",
      "127.255.255.255",
      "[::1]",
      "[::1]:5000",
    ]
  ) {
    assert.equal(isLoopbackHost(h), true, h);
  }
});

Deno.test("isLoopbackHost refuses other hosts, including look-alikes", () => {
  for (
    const h of [
      "10.0.0.1:5000",
      "128.0.0.1",
      "0.0.0.0:5000",
      "localhost.example.com",
      "mylocalhost:5000",
      "127.0.0.1.nip.io",
      "127.0.0.1.evil.example:5000",
      "[::2]:5000",
      "[fe80::1]",
      "registry.example:5000",
      "",
    ]
  ) {
    assert.equal(isLoopbackHost(h), false, h);
  }
});

// --- redactUrl ---

Deno.test("redactUrl masks token and password query parameters", () => {
  assert.equal(redactUrl("https://a/t?token=abc&n=1"), "https://a/t?token=***&n=1");
  assert.equal(
    redactUrl("https://a/t?n=1&access_token=abc&password=pw"),
    "https://a/t?n=1&access_token=***&password=***",
  );
  assert.equal(redactUrl("https://a/t?refresh_token=r"), "https://a/t?refresh_token=***");
});

Deno.test("redactUrl masks every signed-URL parameter: S3, GCS, CloudFront", () => {
  const urls = [
    "https://s3.example/blob?X-Amz-Algorithm=AWS4&X-Amz-Security-Token=tok1&X-Amz-Signature=sig1",
    "https://storage.example/b?X-Goog-Credential=cred2&X-Goog-Signature=sig2",
    "https://cdn.example/b?Expires=1&Signature=sig3&Key-Pair-Id=kp3&Policy=pol3",
  ];
  for (const url of urls) {
    const out = redactUrl(url);
    for (const secret of ["tok1", "sig1", "cred2", "sig2", "sig3", "kp3", "pol3"]) {
      assert.ok(!out.includes(secret), out);
    }
  }
  assert.equal(redactUrl("https://a/?TOKEN=Secret"), "https://a/?TOKEN=***");
});

Deno.test("redactUrl masks user info in the URL", () => {
  assert.equal(redactUrl("https://alice:hunter2@r.example/v2/"), "https://***@r.example/v2/");
});

Deno.test("redactUrl keeps the parameters that help and carry no secret", () => {
  for (
    const u of [
      "https://r.example/v2/",
      "https://r.example/v2/app/tags/list?n=100&last=token",
      "https://auth.example/token?service=reg&scope=repository:a:pull",
      "https://r.example/v2/app/blobs/uploads/?mount=sha256:ab&from=lib/x",
    ]
  ) {
    assert.equal(redactUrl(u), u);
  }
  assert.equal(
    redactUrl("https://r.example/v2/app/blobs/uploads/abc?_state=xyz&digest=sha256:1"),
    "https://r.example/v2/app/blobs/uploads/abc?_state=***&digest=sha256:1",
  );
});

Deno.test("redactText masks URLs inside error messages", () => {
  assert.equal(
    redactText("error sending request for url (https://s3/b?X-Amz-Signature=f00): reset"),
    "error sending request for url (https://s3/b?X-Amz-Signature=***): reset",
  );
});

// --- responseError ---

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

Deno.test("responseError maps 401 and 403 to AuthError (exit 3)", async () => {
  for (const status of [401, 403]) {
    const e = await responseError(new Response(null, { status }), "manifest x:1");
    assert.ok(e instanceof AuthError, `${status}: ${e}`);
    assert.equal(e.exitCode, ExitCode.Auth);
    assert.equal(e.message, `access to manifest x:1 denied (HTTP ${status})`);
  }
});

Deno.test("responseError maps 404 to NotFoundError (exit 4)", async () => {
  const e = await responseError(new Response(null, { status: 404 }), "manifest x:1");
  assert.ok(e instanceof NotFoundError);
  assert.equal(e.exitCode, ExitCode.NotFound);
  assert.equal(e.message, "manifest x:1 not found (HTTP 404)");
});

Deno.test("responseError maps other statuses to a plain failure (exit 1)", async () => {
  for (const status of [400, 405, 500, 503]) {
    const e = await responseError(new Response("not json", { status }), "blob upload");
    assert.ok(e instanceof DtoolError);
    assert.ok(!(e instanceof AuthError) && !(e instanceof NotFoundError));
    assert.equal(e.exitCode, ExitCode.Failure);
    assert.equal(e.message, `blob upload: HTTP ${status}`);
  }
});

Deno.test("responseError includes the registry's error codes from a JSON body", async () => {
  const e = await responseError(
    jsonResponse(404, {
      errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: { Tag: "1" } }],
    }),
    "manifest x:1",
  );
  assert.ok(e instanceof NotFoundError);
  assert.equal(e.message, "manifest x:1 not found (HTTP 404): manifest unknown");
});

Deno.test("responseError joins several registry errors", async () => {
  const e = await responseError(
    jsonResponse(401, {
      errors: [
        { code: "UNAUTHORIZED", message: "authentication required" },
        { code: "DENIED", message: "requested access to the resource is denied" },
      ],
    }),
    "repository app",
  );
  assert.ok(e instanceof AuthError);
  assert.match(e.message, /^access to repository app denied \(HTTP 401\): unauthorized; denied$/);
});

Deno.test("responseError falls back to the message when an error has no code", async () => {
  const e = await responseError(
    jsonResponse(400, { errors: [{ message: "bad things" }] }),
    "blob push",
  );
  assert.equal(e.message, "blob push: HTTP 400: bad things");
  const withCode = await responseError(
    jsonResponse(400, {
      errors: [{ code: "DIGEST_INVALID", message: "provided digest did not match" }],
    }),
    "blob push",
  );
  assert.match(withCode.message, /digest invalid/);
});

Deno.test("responseError ignores JSON bodies without a usable errors list", async () => {
  for (const body of [{}, { errors: [] }, { errors: "nope" }, { errors: [null] }, []]) {
    const e = await responseError(jsonResponse(500, body), "thing");
    assert.equal(e.message, "thing: HTTP 500", JSON.stringify(body));
  }
});

// --- formatBytes ---

Deno.test("formatBytes prints whole bytes below 1 KiB", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1), "1 B");
  assert.equal(formatBytes(1023), "1023 B");
});

Deno.test("formatBytes uses binary units with one decimal", () => {
  assert.equal(formatBytes(1024), "1.0 KiB");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(1024 * 1024), "1.0 MiB");
  assert.equal(formatBytes(5.25 * 1024 * 1024), "5.3 MiB");
  assert.equal(formatBytes(3 * 1024 ** 3), "3.0 GiB");
  assert.equal(formatBytes(2 * 1024 ** 4), "2.0 TiB");
});

Deno.test("formatBytes stays in TiB beyond its largest unit", () => {
  assert.equal(formatBytes(2048 * 1024 ** 4), "2048.0 TiB");
});

Deno.test("responseError keeps the status and the registry's codes for library callers", async () => {
  const e = await responseError(
    jsonResponse(403, { errors: [{ code: "DENIED", message: "no" }, { code: "UNAUTHORIZED" }] }),
    "thing",
  );
  assert.equal(e.name, "AuthError");
  assert.equal(e.status, 403);
  assert.deepEqual(e.codes, ["DENIED", "UNAUTHORIZED"]);
});

Deno.test("readBody reads a body its length says fits at once, and refuses one past the limit", async () => {
  const body = (n: number, headers: Record<string, string> = {}) =>
    new Response(new Uint8Array(n), { headers: { "content-length": String(n), ...headers } });
  assert.equal((await readBody(body(10), 10)).byteLength, 10);
  await assert.rejects(readBody(body(11), 10), /larger than 10 bytes/);
  // No length, or a compressed one: streamed, and still bounded.
  const chunked = new Response(new Blob([new Uint8Array(11)]).stream());
  await assert.rejects(readBody(chunked, 10), /larger than 10 bytes/);
  await assert.rejects(readBody(body(11, { "content-encoding": "gzip" }), 10), /larger than/);
});
