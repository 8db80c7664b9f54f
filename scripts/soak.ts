/**
 * Soak run of `copyImage` under random faults: many copies of one multi-layer image from a
 * source registry behind the fault proxy (tests/helpers/fault_proxy.ts: resets mid-body, 5xx,
 * 429 with Retry-After, corrupted bytes, Range ignored) to a destination reached directly, each
 * into a fresh repository and tag so every blob really moves. Afterwards every destination is
 * read back over HTTP and every manifest and blob re-hashed.
 *
 * ```sh
 * deno run -A scripts/soak.ts [--copies 50] [--seed S] [--probability 0.15] [--parallel 4]
 *   [--layers 6] [--layer-size 524288] [--stalls] [--corrupt-manifests]
 * ```
 *
 * Exits 1 when a copy failed, a destination is not byte for byte the source, or a failed copy
 * left its tag behind.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { copyImage, DockerResolver } from "../mod.ts";
import {
  blobGet,
  type FaultKind,
  manifestRequest,
  type RandomFaults,
  startFaultProxy,
} from "../tests/helpers/fault_proxy.ts";
import { type Fixture, pushOciImage, sha256Digest } from "../tests/helpers/images.ts";
import { registryFetch, startRegistry, type TestRegistry } from "../tests/helpers/registry.ts";

const ACCEPT = "application/vnd.oci.image.manifest.v1+json";

interface Options {
  copies: number;
  seed: number;
  probability: number;
  parallel: number;
  layers: number;
  layerSize: number;
  stalls: boolean;
  corruptManifests: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      copies: { type: "string", default: "50" },
      seed: { type: "string" },
      probability: { type: "string", default: "0.15" },
      parallel: { type: "string", default: "4" },
      layers: { type: "string", default: "6" },
      "layer-size": { type: "string", default: String(512 * 1024) },
      stalls: { type: "boolean", default: false },
      "corrupt-manifests": { type: "boolean", default: false },
    },
  });
  const num = (name: string, v: string | undefined) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number, not ${v}`);
    return n;
  };
  return {
    copies: num("copies", values.copies),
    seed: values.seed === undefined ? Date.now() % 2 ** 31 : num("seed", values.seed),
    probability: num("probability", values.probability),
    parallel: Math.max(1, num("parallel", values.parallel)),
    layers: num("layers", values.layers),
    layerSize: num("layer-size", values["layer-size"]),
    stalls: values.stalls ?? false,
    corruptManifests: values["corrupt-manifests"] ?? false,
  };
}

interface Outcome {
  index: number;
  dest: string;
  retries?: number;
  digest?: string;
  error?: string;
}

/** Problems with one destination: wrong manifest bytes or blobs; empty when it is right. */
async function verify(
  dst: TestRegistry,
  repo: string,
  tag: string,
  fx: Fixture,
): Promise<{ manifest?: string; blobs: string[]; checked: number }> {
  const out: { manifest?: string; blobs: string[]; checked: number } = { blobs: [], checked: 0 };
  const m = await registryFetch(dst, `/v2/${repo}/manifests/${tag}`, {
    headers: { accept: ACCEPT },
  });
  if (m.status !== 200) out.manifest = `manifest: HTTP ${m.status}`;
  else if (sha256Digest(m.body) !== fx.digest) {
    out.manifest = `manifest hashes to ${sha256Digest(m.body)}`;
  }
  const blobs = [{ digest: fx.config!.digest, size: fx.config!.raw.byteLength }, ...fx.layers!];
  for (const b of blobs) {
    const res = await registryFetch(dst, `/v2/${repo}/blobs/${b.digest}`);
    out.checked++;
    if (res.status !== 200) out.blobs.push(`${b.digest}: HTTP ${res.status}`);
    else if (res.body.byteLength !== b.size || sha256Digest(res.body) !== b.digest) {
      out.blobs.push(
        `${b.digest}: ${res.body.byteLength} bytes hashing to ${sha256Digest(res.body)}`,
      );
    }
  }
  return out;
}

async function main(): Promise<number> {
  const o = options();
  const started = performance.now();
  const src = await startRegistry();
  const dst = await startRegistry();
  const kinds: Exclude<FaultKind, "ignore-range">[] = [
    "reset-after",
    "status",
    "retry-after",
    "corrupt",
  ];
  if (o.stalls) kinds.push("stall");
  const random: RandomFaults = {
    seed: o.seed,
    probability: o.probability,
    kinds,
    statuses: [500, 502, 503],
    retryAfterSeconds: 1,
    ignoreRangeProbability: 0.5,
    stallMs: 3000,
    corruptMatch: o.corruptManifests
      ? (req) => blobGet()(req) || manifestRequest("GET")(req)
      : blobGet(),
  };
  const proxy = await startFaultProxy(src.url, {});
  try {
    const fx = await pushOciImage(src, "soak/source:1", {
      layers: o.layers,
      layerSize: o.layerSize,
    });
    const total = fx.layers!.reduce((n, l) => n + l.size, 0) + fx.config!.raw.byteLength;
    console.log(
      `soak: ${o.copies} copies of ${fx.ref} (${o.layers} layers × ${o.layerSize} B, ` +
        `${(total / 2 ** 20).toFixed(1)} MiB) through the fault proxy; seed ${o.seed}, ` +
        `fault probability ${o.probability} per request, ${o.parallel} copies at a time`,
    );
    proxy.setSchedule({ random });

    const outcomes: Outcome[] = [];
    let next = 0;
    const worker = async () => {
      while (next < o.copies) {
        const index = next++;
        const dest = `soak/copy-${index}:t${index}`;
        const outcome: Outcome = { index, dest };
        outcomes.push(outcome);
        try {
          // A fresh resolver per copy, as a CLI run has: its ping and token go through the
          // faults too.
          const result = await copyImage(
            {
              resolver: new DockerResolver({ retryDelayMs: 100, readTimeoutMs: 1000 }),
              ref: `${proxy.host}/soak/source:1`,
            },
            {
              resolver: new DockerResolver({ retryDelayMs: 100 }),
              ref: `${dst.host}/${dest}`,
              tag: `t${index}`,
            },
          );
          outcome.retries = result.retries;
          outcome.digest = result.digest;
        } catch (e) {
          outcome.error = e instanceof Error ? e.message : String(e);
        }
      }
    };
    await Promise.all(Array.from({ length: o.parallel }, worker));
    const copied = performance.now();
    proxy.setSchedule({});

    outcomes.sort((a, b) => a.index - b.index);
    const done = outcomes.filter((x) => x.error === undefined);
    const failed = outcomes.filter((x) => x.error !== undefined);
    let blobsChecked = 0;
    let corruptAccepted = 0;
    const wrongManifests: string[] = [];
    const badBlobs: string[] = [];
    const leftTags: string[] = [];
    for (const x of done) {
      const [repo, tag] = x.dest.split(":");
      const v = await verify(dst, repo, tag, fx);
      blobsChecked += v.checked;
      if (x.digest !== fx.digest) wrongManifests.push(`${x.dest}: result digest ${x.digest}`);
      if (v.manifest) wrongManifests.push(`${x.dest}: ${v.manifest}`);
      for (const b of v.blobs) badBlobs.push(`${x.dest}: ${b}`);
      corruptAccepted += v.blobs.filter((b) => !b.includes("HTTP")).length;
    }
    for (const x of failed) {
      const [repo, tag] = x.dest.split(":");
      const res = await registryFetch(dst, `/v2/${repo}/manifests/${tag}`, {
        method: "HEAD",
        headers: { accept: ACCEPT },
      });
      if (res.status !== 404) leftTags.push(`${x.dest}: HTTP ${res.status}`);
    }

    const retries = done.reduce((n, x) => n + (x.retries ?? 0), 0);
    const byStatus = new Map<number, number>();
    for (const e of proxy.log) {
      for (const f of e.faults) {
        if (f.kind === "status") byStatus.set(f.status, (byStatus.get(f.status) ?? 0) + 1);
      }
    }
    const secs = (ms: number) => (ms / 1000).toFixed(1);
    console.log(`copies completed: ${done.length}/${o.copies}`);
    console.log(`copies failed: ${failed.length}`);
    for (const x of failed) console.log(`  - ${x.dest}: ${x.error}`);
    console.log(`total retries (sum of result.retries): ${retries}`);
    console.log(
      `proxy requests: ${proxy.stats.requests}, faults injected: ${proxy.stats.faultsInjected}`,
    );
    for (const [kind, n] of Object.entries(proxy.stats.byKind).sort()) {
      const detail = kind === "status"
        ? ` (${[...byStatus].sort().map(([s, k]) => `${s}: ${k}`).join(", ")})`
        : "";
      console.log(`  ${kind}: ${n}${detail}`);
    }
    console.log(
      `verified: ${done.length} manifests and ${blobsChecked} blobs re-hashed at the destination`,
    );
    console.log(`corrupt blobs accepted: ${corruptAccepted}`);
    for (const b of badBlobs) console.log(`  - ${b}`);
    console.log(`wrong manifests at the destination: ${wrongManifests.length}`);
    for (const m of wrongManifests) console.log(`  - ${m}`);
    console.log(`failed copies that left their tag: ${leftTags.length}`);
    for (const t of leftTags) console.log(`  - ${t}`);
    console.log(
      `time: ${secs(copied - started)} s copying, ${secs(performance.now() - copied)} s verifying`,
    );
    const ok = failed.length === 0 && badBlobs.length === 0 && wrongManifests.length === 0 &&
      leftTags.length === 0;
    console.log(ok ? "soak: OK" : "soak: FAILED");
    return ok ? 0 : 1;
  } finally {
    await proxy.stop();
    await src.stop();
    await dst.stop();
  }
}

if (import.meta.main) Deno.exit(await main());
