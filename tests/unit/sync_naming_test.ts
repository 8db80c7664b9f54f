import assert from "node:assert/strict";
import { destinationName, nameWithTag, scopedHost } from "../../lib/sync/naming.ts";
import { planSync } from "../../lib/sync/plan.ts";
import type { SourceImage } from "../../lib/sync/sources.ts";
import { isRegistrySource } from "../../lib/sync/sources.ts";

const img = (registry: string, repository: string, tag?: string, digest?: string) => ({
  registry,
  repository,
  tag,
  digest,
});

Deno.test("naming: the last path element, as skopeo", () => {
  assert.deepEqual(destinationName(img("h:5000", "a/b", "1"), {}), { repository: "b", tag: "1" });
  assert.deepEqual(destinationName(img("h", "b", "1"), {}), { repository: "b", tag: "1" });
});

Deno.test("naming: --scoped keeps registry and path, :port becomes _port", () => {
  assert.deepEqual(destinationName(img("127.0.0.1:5000", "a/b", "1"), { scoped: true }), {
    repository: "127.0.0.1_5000/a/b",
    tag: "1",
  });
  assert.equal(scopedHost("[::1]:5000"), "__1_5000");
  assert.equal(scopedHost("registry.example"), "registry.example");
  // A layout's image has no registry: its repository alone.
  assert.equal(destinationName(img("", "team/app", "1"), { scoped: true }).repository, "team/app");
});

Deno.test("naming: --append-suffix goes on tags, never on digests", () => {
  const digest = "sha256:" + "a".repeat(64);
  assert.equal(destinationName(img("h", "a", "1"), { appendSuffix: "-m" }).tag, "1-m");
  const byDigest = destinationName(img("h", "a", undefined, digest), { appendSuffix: "-m" });
  assert.deepEqual(byDigest, { repository: "a", digest });
  assert.equal(nameWithTag(byDigest), `a@${digest}`);
});

Deno.test("plan: destination references and the keys budgets and blobs are shared by", () => {
  const images: SourceImage[] = [
    { ref: "docker://h:1/a/b:1", registry: "h:1", repository: "a/b", tag: "1" },
    { ref: "oci:/l:x/c:2", registry: "", repository: "x/c", tag: "2", store: "oci:/l" },
  ];
  const docker = planSync(images, { destination: { kind: "docker", location: "d:2/m/" } });
  assert.deepEqual(docker.map((i) => i.destination), ["docker://d:2/m/b:1", "docker://d:2/m/c:2"]);
  assert.deepEqual(docker.map((i) => i.sourceStore), ["docker://h:1", "oci:/l"]);
  assert.deepEqual(docker.map((i) => i.destinationStore), ["docker://d:2", "docker://d:2"]);
  assert.deepEqual(docker.map((i) => i.blobScope), ["docker://d:2/m/b", "docker://d:2/m/c"]);
  const oci = planSync(images, { destination: { kind: "oci", location: "/o" }, scoped: true });
  assert.deepEqual(oci.map((i) => i.destination), ["oci:/o:h_1/a/b:1", "oci:/o:x/c:2"]);
  assert.deepEqual(new Set(oci.map((i) => i.blobScope)), new Set(["oci:/o"]));
  const dir = planSync(images, { destination: { kind: "dir", location: "/d" } });
  assert.deepEqual(dir.map((i) => i.destination), ["dir:/d/b:1", "dir:/d/c:2"]);
});

Deno.test("sources: a host alone is a whole registry", () => {
  for (
    const s of ["localhost", "localhost:5000", "registry.example", "127.0.0.1:5000/", "[::1]:5000"]
  ) {
    assert.ok(isRegistrySource(s), s);
  }
  for (
    const s of [
      "busybox",
      "busybox:1",
      "registry:5000",
      "localhost:5000/app",
      "h.example/a@sha256:00",
    ]
  ) {
    assert.ok(!isRegistrySource(s), s);
  }
});

Deno.test("plan: two sources under one destination name are refused before anything is copied", () => {
  const images: SourceImage[] = [
    { ref: "docker://h/team1/app:1", registry: "h", repository: "team1/app", tag: "1" },
    { ref: "docker://h/team2/app:1", registry: "h", repository: "team2/app", tag: "1" },
  ];
  for (const kind of ["docker", "oci", "dir"] as const) {
    assert.throws(
      () =>
        planSync(images, {
          destination: { kind, location: "/tmp/x" },
          shard: { index: 0, count: 2 },
        }),
      /docker:\/\/h\/team1\/app:1 and docker:\/\/h\/team2\/app:1 would both be written to app:1; use --scoped/,
    );
  }
  const scoped = planSync(images, {
    destination: { kind: "dir", location: "/tmp/x" },
    scoped: true,
  });
  assert.equal(new Set(scoped.map((i) => i.destination)).size, 2);
});

Deno.test("plan: with referrers, tags named after a digest travel with their images", () => {
  const hex = "a".repeat(64);
  const images: SourceImage[] = ["1", `sha256-${hex}`, `sha256-${hex}.sig`].map((tag) => ({
    ref: `docker://h/app:${tag}`,
    registry: "h",
    repository: "app",
    tag,
  }));
  const destination = { kind: "docker" as const, location: "m" };
  assert.equal(planSync(images, { destination }).length, 3);
  const items = planSync(images, { destination, withSubjects: true });
  assert.deepEqual(items.map((i) => i.destination), ["docker://m/app:1"]);
});
