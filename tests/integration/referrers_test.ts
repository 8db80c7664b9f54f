/**
 * Referrers and digest tags travel with the image: through Debian's
 * registry (distribution 2.8, no referrers API: the fallback tag path, both
 * ways), through a proxy that gives it the API, and through an OCI layout.
 * skopeo reads the copied manifests back to check their digests.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dtool, dtoolOk, sha256 } from "../helpers/dtool.ts";
import {
  addToFallback,
  ArtifactTypes,
  pushArtifact,
  type PushedArtifact,
  putManifest,
} from "../helpers/artifacts.ts";
import { type Fixture, pushOciImage, pushOciIndex } from "../helpers/images.ts";
import { startReferrersProxy } from "../helpers/referrers_proxy.ts";
import { startRegistry, type TestRegistry } from "../helpers/registry.ts";
import { skopeoInspectRaw } from "../helpers/skopeo.ts";

const REPO = "app/signed";

/** The graph the tests copy: an index, its referrers, one of theirs, and a cosign-style tag. */
interface Graph {
  index: Fixture;
  amd64: string;
  sig: PushedArtifact;
  sbom: PushedArtifact;
  sbomSig: PushedArtifact;
  attestation: PushedArtifact;
  cosignTag: string;
  cosign: PushedArtifact;
}

/**
 * Pushes the graph to `reg` through `base` (the registry itself, or a proxy
 * with the API). Without the API the fallback indexes are written as a
 * client must.
 */
async function pushGraph(reg: TestRegistry, base: string, api: boolean): Promise<Graph> {
  const index = await pushOciIndex(reg, `${REPO}:1`, ["linux/amd64", "linux/arm64/v8"]);
  const amd64 = index.children![0].digest;
  const subjectOf = (digest: string, raw: Uint8Array, mediaType: string) => ({
    mediaType,
    digest,
    size: raw.byteLength,
  });
  const indexSubject = subjectOf(index.digest, index.raw, index.mediaType);
  const child = index.images![0];
  const childSubject = subjectOf(amd64, child.manifest, child.mediaType);
  const link = async (subject: { digest: string }, a: PushedArtifact) => {
    if (!api) await addToFallback(reg.url, REPO, subject.digest, a);
    return a;
  };
  const sig = await link(
    indexSubject,
    await pushArtifact(base, REPO, indexSubject, ArtifactTypes.signature, "index signature"),
  );
  const sbom = await link(
    indexSubject,
    await pushArtifact(base, REPO, indexSubject, ArtifactTypes.sbom, '{"spdxVersion":"2.3"}'),
  );
  const sbomSubject = subjectOf(sbom.digest, sbom.raw, sbom.mediaType);
  const sbomSig = await link(
    sbomSubject,
    await pushArtifact(base, REPO, sbomSubject, ArtifactTypes.signature, "sbom signature"),
  );
  const attestation = await link(
    childSubject,
    await pushArtifact(base, REPO, childSubject, ArtifactTypes.attestation, "provenance"),
  );
  // cosign's legacy scheme: a tag named after the digest, on a manifest with no subject.
  const cosign = await pushArtifact(base, REPO, undefined, ArtifactTypes.signature, "cosign");
  const cosignTag = `${index.digest.replace(":", "-")}.sig`;
  await putManifest(reg.url, REPO, cosignTag, cosign.raw, cosign.mediaType);
  return { index, amd64, sig, sbom, sbomSig, attestation, cosignTag, cosign };
}

async function fallbackDigests(reg: TestRegistry, subject: string): Promise<string[]> {
  const res = await fetch(`${reg.url}/v2/${REPO}/manifests/${subject.replace(":", "-")}`, {
    headers: { accept: "application/vnd.oci.image.index.v1+json" },
  });
  if (res.status === 404) {
    await res.body?.cancel();
    return [];
  }
  return ((await res.json()).manifests as { digest: string }[]).map((d) => d.digest).sort();
}

async function assertSameBytes(host: string, digests: string[]): Promise<void> {
  for (const d of digests) {
    assert.equal(await sha256(await skopeoInspectRaw(`${host}/${REPO}@${d}`)), d);
  }
}

async function withTwo(fn: (src: TestRegistry, dst: TestRegistry) => Promise<void>) {
  const src = await startRegistry();
  const dst = await startRegistry();
  try {
    await fn(src, dst);
  } finally {
    await src.stop();
    await dst.stop();
  }
}

Deno.test("referrers through the fallback tag, both ways, on Debian's registry", async (t) => {
  await withTwo(async (src, dst) => {
    const g = await pushGraph(src, src.url, false);
    const r = await dtoolOk([
      "copy",
      "--all",
      "--referrers",
      "--digest-tags",
      "--progress=json",
      `docker://${src.host}/${REPO}:1`,
      `docker://${dst.host}/${REPO}:1`,
    ]);

    await t.step("every referrer arrives, at every depth, with its digest", async () => {
      assert.deepEqual(
        await fallbackDigests(dst, g.index.digest),
        [g.sig.digest, g.sbom.digest].sort(),
      );
      assert.deepEqual(await fallbackDigests(dst, g.sbom.digest), [g.sbomSig.digest]);
      assert.deepEqual(await fallbackDigests(dst, g.amd64), [g.attestation.digest]);
      await assertSameBytes(
        dst.host,
        [g.sig, g.sbom, g.sbomSig, g.attestation].map((a) => a.digest),
      );
      assert.equal(await sha256(await skopeoInspectRaw(`${dst.host}/${REPO}:1`)), g.index.digest);
    });

    await t.step("the cosign-style digest tag is copied as is", async () => {
      const raw = await skopeoInspectRaw(`${dst.host}/${REPO}:${g.cosignTag}`);
      assert.equal(await sha256(raw), g.cosign.digest);
      assert.ok(!r.stderr.includes('"warning"'), r.stderr);
    });

    await t.step("dtool referrers lists them, recursively, as JSON and as a tree", async () => {
      const flat = JSON.parse(
        (await dtoolOk(["referrers", `docker://${dst.host}/${REPO}:1`])).stdout,
      );
      assert.equal(flat.mediaType, "application/vnd.oci.image.index.v1+json");
      assert.deepEqual(
        flat.manifests.map((d: { digest: string }) => d.digest).sort(),
        [g.sig.digest, g.sbom.digest].sort(),
      );
      const deep = JSON.parse(
        (await dtoolOk(["referrers", "--recursive", `docker://${dst.host}/${REPO}:1`])).stdout,
      );
      const sbom = deep.manifests.find((d: { digest: string }) => d.digest === g.sbom.digest);
      assert.deepEqual(sbom.referrers.map((d: { digest: string }) => d.digest), [g.sbomSig.digest]);
      assert.equal(sbom.artifactType, ArtifactTypes.sbom);
      const tree = (await dtoolOk([
        "referrers",
        "--recursive",
        "--format",
        "tree",
        `docker://${dst.host}/${REPO}:1`,
      ])).stdout;
      const line = `    └── ${ArtifactTypes.signature} ${g.sbomSig.digest}`;
      assert.ok(tree.split("\n").includes(line), tree);
      assert.equal(tree.split("\n")[0], `${dst.host}/${REPO}@${g.index.digest}`);
      const sboms = await dtoolOk([
        "referrers",
        "--artifact-type",
        ArtifactTypes.sbom,
        `docker://${dst.host}/${REPO}:1`,
      ]);
      assert.deepEqual(
        JSON.parse(sboms.stdout).manifests.map((d: { digest: string }) => d.digest),
        [g.sbom.digest],
      );
    });

    await t.step("a second copy finds the referrers there and adds none twice", async () => {
      await dtoolOk([
        "copy",
        "--all",
        "--referrers",
        "-q",
        `docker://${src.host}/${REPO}:1`,
        `docker://${dst.host}/${REPO}:1`,
      ]);
      assert.deepEqual(
        await fallbackDigests(dst, g.index.digest),
        [g.sig.digest, g.sbom.digest].sort(),
      );
    });
  });
});

Deno.test("referrers through the referrers API: no fallback tag is read or written", async () => {
  await withTwo(async (srcReg, dstReg) => {
    const src = await startReferrersProxy(srcReg.url);
    const dst = await startReferrersProxy(dstReg.url);
    try {
      const g = await pushGraph(srcReg, src.url, true);
      const before = { ...src.counts };
      await dtoolOk([
        "copy",
        "--all",
        "--referrers",
        "-q",
        `docker://${src.host}/${REPO}:1`,
        `docker://${dst.host}/${REPO}:1`,
      ]);
      assert.equal(
        src.counts.fallbackReads,
        before.fallbackReads,
        "source asked for a fallback tag",
      );
      assert.equal(dst.counts.fallbackReads + dst.counts.fallbackWrites, 0);
      assert.ok(src.counts.api >= 5, `API asked ${src.counts.api} times`);
      // Subject first, then what refers to it, and the tag last.
      const at = (ref: string) => dst.puts.indexOf(`${REPO}:${ref}`);
      assert.ok(at(g.index.digest) >= 0 && at(g.index.digest) < at(g.sig.digest));
      assert.ok(at(g.sbom.digest) < at(g.sbomSig.digest));
      assert.ok(at(g.amd64) < at(g.attestation.digest));
      assert.equal(dst.puts.at(-1), `${REPO}:1`);
      const listed = JSON.parse(
        (await dtoolOk(["referrers", "--recursive", `docker://${dst.host}/${REPO}:1`])).stdout,
      );
      assert.deepEqual(
        listed.manifests.map((d: { digest: string }) => d.digest).sort(),
        [g.sig.digest, g.sbom.digest].sort(),
      );
      await assertSameBytes(
        dstReg.host,
        [g.sig, g.sbom, g.sbomSig, g.attestation].map((a) => a.digest),
      );
    } finally {
      await src.stop();
      await dst.stop();
    }
  });
});

Deno.test("--referrers-artifact-type and --platform choose what travels", async (t) => {
  await withTwo(async (src, dst) => {
    const g = await pushGraph(src, src.url, false);
    await t.step("only SBOMs, at every depth: the SBOM's signature stays behind", async () => {
      await dtoolOk([
        "copy",
        "--all",
        "--referrers",
        "--referrers-artifact-type",
        ArtifactTypes.sbom,
        "-q",
        `docker://${src.host}/${REPO}:1`,
        `docker://${dst.host}/${REPO}:sboms`,
      ]);
      assert.deepEqual(await fallbackDigests(dst, g.index.digest), [g.sbom.digest]);
      assert.deepEqual(await fallbackDigests(dst, g.sbom.digest), []);
      assert.deepEqual(await fallbackDigests(dst, g.amd64), []);
    });
    await t.step("one platform: the chosen image's referrers, not the index's", async () => {
      const dst2 = await startRegistry();
      try {
        await dtoolOk([
          "copy",
          "--platform",
          "linux/amd64",
          "--referrers",
          "-q",
          `docker://${src.host}/${REPO}:1`,
          `docker://${dst2.host}/${REPO}:amd64`,
        ]);
        assert.deepEqual(await fallbackDigests(dst2, g.amd64), [g.attestation.digest]);
        assert.deepEqual(await fallbackDigests(dst2, g.index.digest), []);
      } finally {
        await dst2.stop();
      }
    });
  });
});

Deno.test("referrers travel into an OCI layout and an OCI archive, and out again", async () => {
  await withTwo(async (src, dst) => {
    const g = await pushGraph(src, src.url, false);
    const tmp = await Deno.makeTempDir();
    try {
      const layout = join(tmp, "layout");
      await dtoolOk([
        "copy",
        "--all",
        "--referrers",
        "-q",
        `docker://${src.host}/${REPO}:1`,
        `oci:${layout}:app:1`,
      ]);
      const listed = JSON.parse(
        (await dtoolOk(["referrers", "--recursive", `oci:${layout}:app:1`])).stdout,
      );
      assert.deepEqual(
        listed.manifests.map((d: { digest: string }) => d.digest).sort(),
        [g.sig.digest, g.sbom.digest].sort(),
      );
      // The layout still reads as holding one image by name.
      const tags = JSON.parse((await dtoolOk(["list-tags", `oci:${layout}`])).stdout).Tags;
      assert.deepEqual(tags, ["app:1"]);
      await dtoolOk([
        "copy",
        "--all",
        "--referrers",
        "-q",
        `oci:${layout}:app:1`,
        `docker://${dst.host}/${REPO}:1`,
      ]);
      assert.deepEqual(
        await fallbackDigests(dst, g.index.digest),
        [g.sig.digest, g.sbom.digest].sort(),
      );
      assert.deepEqual(await fallbackDigests(dst, g.sbom.digest), [g.sbomSig.digest]);
      assert.deepEqual(await fallbackDigests(dst, g.amd64), [g.attestation.digest]);

      // The same through an OCI archive, to a repository of its own.
      const archive = join(tmp, "app.tar");
      const back = `${dst.host}/${REPO}-archive:1`;
      await dtoolOk([
        "copy",
        "--all",
        "--referrers",
        "-q",
        `oci:${layout}:app:1`,
        `oci-archive:${archive}:1`,
      ]);
      await dtoolOk([
        "copy",
        "--all",
        "--referrers",
        "-q",
        `oci-archive:${archive}:1`,
        `docker://${back}`,
      ]);
      const res = await fetch(
        `${dst.url}/v2/${REPO}-archive/manifests/${g.index.digest.replace(":", "-")}`,
        { headers: { accept: "application/vnd.oci.image.index.v1+json" } },
      );
      const listed2 = (await res.json()).manifests.map((d: { digest: string }) => d.digest).sort();
      assert.deepEqual(listed2, [g.sig.digest, g.sbom.digest].sort());
      assert.equal(await sha256(await skopeoInspectRaw(back)), g.index.digest);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
});

Deno.test("bad cases: a fallback tag that is not an index warns; dir: cannot hold referrers", async () => {
  await withTwo(async (src, dst) => {
    const image = await pushOciImage(src, `${REPO}:1`);
    // A registry that answers the fallback tag with the image itself (oras#2148).
    await putManifest(src.url, REPO, image.digest.replace(":", "-"), image.raw, image.mediaType);
    const r = await dtool([
      "copy",
      "--referrers",
      `docker://${src.host}/${REPO}:1`,
      `docker://${dst.host}/${REPO}:1`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /referrers tag sha256-[0-9a-f]{64} of app\/signed names a .*, not an index/,
    );
    assert.equal(await sha256(await skopeoInspectRaw(`${dst.host}/${REPO}:1`)), image.digest);

    const tmp = await Deno.makeTempDir();
    try {
      const d = await dtool([
        "copy",
        "--referrers",
        `docker://${src.host}/${REPO}:1`,
        `dir:${tmp}/d`,
      ]);
      assert.equal(d.code, 2);
      assert.match(d.stderr, /a dir destination cannot hold referrers/);
      await assert.rejects(Deno.stat(`${tmp}/d`));
      const a = await dtool([
        "copy",
        "--referrers",
        `docker://${src.host}/${REPO}:1`,
        `docker-archive:${tmp}/a.tar:app:1`,
      ]);
      assert.equal(a.code, 2);
      assert.match(a.stderr, /a docker-archive destination cannot hold referrers/);
      assert.equal(a.stderr.trim().split("\n").length, 1);
      await assert.rejects(Deno.stat(`${tmp}/a.tar`));
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
});

Deno.test("concurrent copies that add referrers to one fallback index keep them all", async () => {
  await withTwo(async (src, dst) => {
    const image = await pushOciImage(src, `${REPO}:1`);
    const subject = {
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.raw.byteLength,
    };
    const types = ["application/x-a", "application/x-b", "application/x-c", "application/x-d"];
    const pushed: string[] = [];
    for (const type of types) {
      const a = await pushArtifact(src.url, REPO, subject, type, type);
      await addToFallback(src.url, REPO, image.digest, a);
      pushed.push(a.digest);
    }
    const runs = types.map((type) =>
      dtool([
        "copy",
        "--referrers",
        "--referrers-artifact-type",
        type,
        "-q",
        `docker://${src.host}/${REPO}:1`,
        `docker://${dst.host}/${REPO}:1`,
      ])
    );
    for (const r of await Promise.all(runs)) assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await fallbackDigests(dst, image.digest), pushed.sort());
  });
});

Deno.test("sync --referrers: into a registry, into an OCI layout, and from the layout on", async () => {
  await withTwo(async (src, dst) => {
    const g = await pushGraph(src, src.url, false);
    const tmp = await Deno.makeTempDir();
    const third = await startRegistry();
    try {
      const flags = ["--all", "--referrers", "--digest-tags", "-q"];
      await dtoolOk([
        "sync",
        "--src",
        "docker",
        "--dest",
        "docker",
        ...flags,
        `${src.host}/${REPO}`,
        dst.host,
      ]);
      const signed = "signed";
      const check = async (reg: TestRegistry) => {
        const at = async (subject: string) => {
          const res = await fetch(
            `${reg.url}/v2/${signed}/manifests/${subject.replace(":", "-")}`,
            { headers: { accept: "application/vnd.oci.image.index.v1+json" } },
          );
          return ((await res.json()).manifests as { digest: string }[]).map((d) => d.digest).sort();
        };
        assert.deepEqual(await at(g.index.digest), [g.sig.digest, g.sbom.digest].sort());
        assert.deepEqual(await at(g.sbom.digest), [g.sbomSig.digest]);
        assert.deepEqual(await at(g.amd64), [g.attestation.digest]);
        assert.equal(
          await sha256(await skopeoInspectRaw(`${reg.host}/${signed}:1`)),
          g.index.digest,
        );
        const cosign = await skopeoInspectRaw(`${reg.host}/${signed}:${g.cosignTag}`);
        assert.equal(await sha256(cosign), g.cosign.digest);
      };
      await check(dst);

      const layout = join(tmp, "mirror");
      await dtoolOk([
        "sync",
        "--src",
        "docker",
        "--dest",
        "oci",
        ...flags,
        `${src.host}/${REPO}`,
        layout,
      ]);
      const listed = JSON.parse(
        (await dtoolOk(["referrers", "--recursive", `oci:${layout}:${signed}:1`])).stdout,
      );
      assert.deepEqual(
        listed.manifests.map((d: { digest: string }) => d.digest).sort(),
        [g.sig.digest, g.sbom.digest].sort(),
      );
      await dtoolOk(["sync", "--src", "oci", "--dest", "docker", ...flags, layout, third.host]);
      await check(third);
    } finally {
      await third.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  });
});
