/**
 * Supply-chain artifacts made by the tests without dtool: OCI 1.1 artifact
 * manifests (an `artifactType`, the empty config, one blob) that refer to a
 * subject, pushed with plain HTTP to a registry (or a proxy in front of it).
 *
 * @module
 */
import { sha256Digest } from "./images.ts";

const enc = new TextEncoder();
/** The OCI empty descriptor's content, `{}`. */
const EMPTY = enc.encode("{}");

/** Artifact types the tests use. */
export const ArtifactTypes = {
  signature: "application/vnd.dev.cosign.artifact.sig.v1+json",
  sbom: "application/spdx+json",
  attestation: "application/vnd.in-toto+json",
} as const;

/** A pushed artifact. */
export interface PushedArtifact {
  digest: string;
  size: number;
  raw: Uint8Array;
  mediaType: string;
  artifactType: string;
}

async function put(url: string, init: RequestInit): Promise<Response> {
  const res = await fetch(url, init);
  await res.body?.cancel();
  if (res.status >= 300) throw new Error(`${init.method} ${url}: HTTP ${res.status}`);
  return res;
}

/** Uploads a blob monolithically (POST + PUT ?digest=). */
export async function pushBlob(base: string, repo: string, bytes: Uint8Array): Promise<string> {
  const digest = sha256Digest(bytes);
  const head = await fetch(`${base}/v2/${repo}/blobs/${digest}`, { method: "HEAD" });
  await head.body?.cancel();
  if (head.status === 200) return digest;
  const start = await put(`${base}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  const loc = new URL(start.headers.get("location")!, base);
  loc.searchParams.set("digest", digest);
  await put(loc.href, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream" },
    body: bytes as BodyInit,
  });
  return digest;
}

/** Puts manifest bytes under a tag or digest; returns the response (for its headers). */
export function putManifest(
  base: string,
  repo: string,
  reference: string,
  raw: Uint8Array,
  mediaType: string,
): Promise<Response> {
  return put(`${base}/v2/${repo}/manifests/${reference}`, {
    method: "PUT",
    headers: { "content-type": mediaType },
    body: raw as BodyInit,
  });
}

/**
 * Pushes an artifact of `artifactType` referring to `subject` (a manifest
 * descriptor; none for cosign's legacy tags), by digest, with one blob of `payload`.
 */
export async function pushArtifact(
  base: string,
  repo: string,
  subject: { mediaType: string; digest: string; size: number } | undefined,
  artifactType: string,
  payload: string,
): Promise<PushedArtifact> {
  const blob = enc.encode(payload);
  await pushBlob(base, repo, EMPTY);
  await pushBlob(base, repo, blob);
  const mediaType = "application/vnd.oci.image.manifest.v1+json";
  const manifest = {
    schemaVersion: 2,
    mediaType,
    artifactType,
    config: {
      mediaType: "application/vnd.oci.empty.v1+json",
      digest: sha256Digest(EMPTY),
      size: 2,
    },
    layers: [{ mediaType: artifactType, digest: sha256Digest(blob), size: blob.byteLength }],
    ...(subject
      ? { subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size } }
      : {}),
    annotations: { "org.dtool.test.payload": payload },
  };
  const raw = enc.encode(JSON.stringify(manifest));
  const digest = sha256Digest(raw);
  await putManifest(base, repo, digest, raw, mediaType);
  return { digest, size: raw.byteLength, raw, mediaType, artifactType };
}

/**
 * Adds an artifact to the fallback tag index of its subject (`sha256-<hex>`),
 * as a client of a registry without the referrers API must.
 */
export async function addToFallback(
  base: string,
  repo: string,
  subjectDigest: string,
  artifact: PushedArtifact,
): Promise<void> {
  const tag = subjectDigest.replace(":", "-");
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: "application/vnd.oci.image.index.v1+json" },
  });
  const current = res.status === 200
    ? (await res.json()).manifests
    : (await res.body?.cancel(), []);
  const index = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [...current, {
      mediaType: artifact.mediaType,
      digest: artifact.digest,
      size: artifact.size,
      artifactType: artifact.artifactType,
    }],
  };
  await putManifest(
    base,
    repo,
    tag,
    enc.encode(JSON.stringify(index)),
    "application/vnd.oci.image.index.v1+json",
  );
}
