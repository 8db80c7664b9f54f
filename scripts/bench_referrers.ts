/**
 * Referrers benchmark: `dtool copy --referrers` of an image with 20
 * referrers (10 on the image, one on each of those: depth 2) between two
 * local registries, once on Debian's registry as it is (no referrers API:
 * the fallback tag path) and once with a proxy that gives both registries
 * the API. Prints wall time (median of `runs`) and the HTTP requests of one
 * `--debug` run. skopeo copies no referrers, so there is no ratio.
 *
 * Usage: deno task bench --referrers [--runs N]
 *
 * @module
 */
import { dtool } from "../tests/helpers/dtool.ts";
import { addToFallback, pushArtifact } from "../tests/helpers/artifacts.ts";
import { pushOciImage } from "../tests/helpers/images.ts";
import { startReferrersProxy } from "../tests/helpers/referrers_proxy.ts";
import { startRegistry } from "../tests/helpers/registry.ts";

const REPO = "bench/referrers";

/** One measured setting. */
export interface ReferrersFigure {
  mode: "fallback tag" | "referrers API";
  referrers: number;
  medianSeconds: number;
  requests: number;
}

/** Runs both settings and returns their figures. */
export async function benchReferrers(runs = 3): Promise<ReferrersFigure[]> {
  const out: ReferrersFigure[] = [];
  for (const api of [false, true]) {
    const srcReg = await startRegistry();
    const dstReg = await startRegistry();
    const srcProxy = api ? await startReferrersProxy(srcReg.url) : undefined;
    const dstProxy = api ? await startReferrersProxy(dstReg.url) : undefined;
    try {
      const src = srcProxy ?? srcReg;
      const dst = dstProxy ?? dstReg;
      const image = await pushOciImage(srcReg, `${REPO}:1`, { layers: 2 });
      const subject = {
        mediaType: image.mediaType,
        digest: image.digest,
        size: image.raw.byteLength,
      };
      let count = 0;
      for (let i = 0; i < 10; i++) {
        const a = await pushArtifact(src.url, REPO, subject, `application/x-kind-${i}`, `a${i}`);
        if (!api) await addToFallback(srcReg.url, REPO, image.digest, a);
        const inner = { mediaType: a.mediaType, digest: a.digest, size: a.size };
        const b = await pushArtifact(src.url, REPO, inner, "application/x-signature", `s${i}`);
        if (!api) await addToFallback(srcReg.url, REPO, a.digest, b);
        count += 2;
      }
      const times: number[] = [];
      let requests = 0;
      for (let run = 0; run <= runs; run++) {
        const debug = run === runs;
        const started = performance.now();
        const r = await dtool([
          "copy",
          "--referrers",
          "-q",
          ...(debug ? ["--debug"] : []),
          `docker://${src.host}/${REPO}:1`,
          `docker://${dst.host}/${REPO}-${run}:1`,
        ]);
        if (r.code !== 0) throw new Error(`copy failed: ${r.stderr}`);
        if (debug) {
          requests = Number(/(\d+) HTTP requests/.exec(r.stderr.trim().split("\n").at(-1)!)?.[1]);
        } else {
          times.push((performance.now() - started) / 1000);
        }
      }
      times.sort((a, b) => a - b);
      out.push({
        mode: api ? "referrers API" : "fallback tag",
        referrers: count,
        medianSeconds: times[Math.floor(times.length / 2)],
        requests,
      });
    } finally {
      await srcProxy?.stop();
      await dstProxy?.stop();
      await srcReg.stop();
      await dstReg.stop();
    }
  }
  return out;
}

/** Prints the figures; `args` may hold `--runs N`. */
export async function main(args: string[]): Promise<void> {
  const i = args.indexOf("--runs");
  const runs = i >= 0 ? Number(args[i + 1]) : 3;
  for (const f of await benchReferrers(runs)) {
    console.log(
      `copy --referrers, ${f.referrers} referrers (depth 2), ${f.mode}: ` +
        `${f.medianSeconds.toFixed(2)} s (median of ${runs}), ${f.requests} HTTP requests`,
    );
  }
}

if (import.meta.main) await main(Deno.args);
