/**
 * The `dtool serve` cases of `deno task bench` (scenario S): skopeo pushing
 * 8 × 64 MiB into `dtool serve` and into Debian's docker-registry in the
 * same run (runs alternate which goes first), skopeo pulling it back from
 * each, and the peak RSS of each server during a 1 GiB push (each server
 * fresh for it). The ratios are dtool serve / docker-registry: ≤ 1.0 means
 * serve is at least as fast. Sizes are divided by 16 with `--quick`.
 *
 * @module
 */
import { sha256Digest } from "../tests/helpers/images.ts";
import { freePort, startRegistry, type TestRegistry } from "../tests/helpers/registry.ts";
import { skopeoInspectRaw } from "../tests/helpers/skopeo.ts";
import { writeBenchLayout } from "./bench_images.ts";
import { PERMISSIONS, V8_FLAGS } from "./compile.ts";

const MiB = 1024 * 1024;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const RUNS = 3;

/** A server under test: its host and the pid whose memory is measured. */
interface Server {
  name: "dtool serve" | "docker-registry";
  host: string;
  pid: number;
  stop(): Promise<void>;
}

async function capture(cmd: string, args: string[]): Promise<string | undefined> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
  return out.success ? new TextDecoder().decode(out.stdout) : undefined;
}

/** Peak resident memory of a process so far (VmHWM), in MiB. */
async function peakRssMiB(pid: number): Promise<number> {
  const status = await capture("cat", [`/proc/${pid}/status`]);
  return Number(status?.match(/VmHWM:\s+(\d+)/)?.[1] ?? NaN) / 1024;
}

async function startDtoolServe(tmp: string): Promise<Server> {
  const host = `127.0.0.1:${freePort()}`;
  const storage = await Deno.makeTempDir({ dir: tmp, prefix: "serve-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...V8_FLAGS,
      ...PERMISSIONS,
      CLI,
      "serve",
      "--quiet",
      "--addr",
      host,
      "--storage",
      storage,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("dtool: serving")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`dtool serve did not start: ${text}`);
    text += value;
  }
  reader.releaseLock();
  child.stderr.cancel().catch(() => {});
  return {
    name: "dtool serve",
    host,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(storage, { recursive: true }).catch(() => {});
    },
  };
}

async function startDistribution(): Promise<Server> {
  const reg: TestRegistry = await startRegistry();
  const pids = await capture("pgrep", ["-f", "--", `serve ${reg.dir}/config.yml`]);
  const pid = Number(pids?.trim().split("\n")[0]);
  return { name: "docker-registry", host: reg.host, pid, stop: () => reg.stop() };
}

/** One skopeo copy, timed; a private blob-info cache keeps skopeo from mounting. */
async function skopeoCopy(tmp: string, src: string, dest: string): Promise<number> {
  const cache = await Deno.makeTempDir({ dir: tmp, prefix: "skopeo-cache-" });
  const t0 = performance.now();
  const out = await new Deno.Command("skopeo", {
    args: [
      "--insecure-policy",
      "copy",
      "--quiet",
      "--preserve-digests",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      src,
      dest,
    ],
    env: { _CONTAINERS_ROOTLESS_UID: "65534", XDG_DATA_HOME: cache },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  if (!out.success) {
    throw new Error(`skopeo copy ${src} ${dest}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return seconds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** What scenario S measured. */
export interface ServeBenchResult {
  /** Image pushed and pulled. */
  image: string;
  /** Median seconds per server. */
  push: Record<Server["name"], number>;
  pull: Record<Server["name"], number>;
  /** The big push, and each server's peak RSS during it. */
  big: string;
  peakRssMiB: Record<Server["name"], number>;
}

/** Runs scenario S and prints its table. */
export async function serveBench(quick: boolean): Promise<ServeBenchResult> {
  const div = quick ? 16 : 1;
  const tmp = await Deno.makeTempDir({ prefix: "dtool-bench-serve-" });
  const servers: Server[] = [];
  try {
    const spec = { layers: 8, layerSize: 64 * MiB / div };
    const image = `${spec.layers} × ${spec.layerSize / MiB} MiB`;
    const layout = `${tmp}/image`;
    await Deno.mkdir(layout);
    const { digest } = await writeBenchLayout(layout, spec, "bench/serve");
    console.error(
      `bench: scenario S: skopeo push/pull of ${image}, dtool serve vs docker-registry`,
    );
    servers.push(await startDtoolServe(tmp), await startDistribution());
    const push: Record<string, number[]> = { "dtool serve": [], "docker-registry": [] };
    const pull: Record<string, number[]> = { "dtool serve": [], "docker-registry": [] };
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 ? [...servers].reverse() : servers;
      for (const s of order) {
        const ref = `${s.host}/bench/push-${run}:1`;
        push[s.name].push(await skopeoCopy(tmp, `dir:${layout}`, `docker://${ref}`));
        const served = sha256Digest(await skopeoInspectRaw(ref));
        if (served !== digest) throw new Error(`${s.name} serves ${served}, pushed ${digest}`);
      }
      for (const s of order) {
        const out = `${tmp}/pull-${run}-${s.name.replace(" ", "-")}`;
        pull[s.name].push(
          await skopeoCopy(tmp, `docker://${s.host}/bench/push-${run}:1`, `dir:${out}`),
        );
        await Deno.remove(out, { recursive: true });
      }
    }
    for (const s of servers.splice(0)) await s.stop();

    // Peak RSS during one big push, each server fresh.
    const bigSpec = { layers: 1, layerSize: 1024 * MiB / div };
    const big = `1 × ${bigSpec.layerSize / MiB} MiB`;
    await Deno.remove(layout, { recursive: true });
    await Deno.mkdir(layout);
    await writeBenchLayout(layout, bigSpec, "bench/big");
    const peak: Record<string, number> = {};
    for (const start of [() => startDtoolServe(tmp), startDistribution]) {
      const s = await start();
      servers.push(s);
      await skopeoCopy(tmp, `dir:${layout}`, `docker://${s.host}/bench/big:1`);
      peak[s.name] = await peakRssMiB(s.pid);
      await servers.splice(0)[0].stop();
    }

    const result: ServeBenchResult = {
      image,
      push: {
        "dtool serve": median(push["dtool serve"]),
        "docker-registry": median(push["docker-registry"]),
      },
      pull: {
        "dtool serve": median(pull["dtool serve"]),
        "docker-registry": median(pull["docker-registry"]),
      },
      big,
      peakRssMiB: peak as ServeBenchResult["peakRssMiB"],
    };
    const f = (n: number) => n.toFixed(2);
    console.log(`\nS: skopeo into and out of dtool serve vs docker-registry, medians of ${RUNS}`);
    console.log(
      `  push ${image}: serve ${f(result.push["dtool serve"])} s, registry ` +
        `${f(result.push["docker-registry"])} s, ratio ${
          f(result.push["dtool serve"] / result.push["docker-registry"])
        } (target ≤ 1.0)`,
    );
    console.log(
      `  pull ${image}: serve ${f(result.pull["dtool serve"])} s, registry ` +
        `${f(result.pull["docker-registry"])} s, ratio ${
          f(result.pull["dtool serve"] / result.pull["docker-registry"])
        } (target ≤ 1.0)`,
    );
    console.log(
      `  peak RSS during a ${big} push: serve ${peak["dtool serve"].toFixed(0)} MiB ` +
        `(target ≤ 100), registry ${peak["docker-registry"].toFixed(0)} MiB`,
    );
    return result;
  } finally {
    for (const s of servers) await s.stop().catch(() => {});
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await serveBench(Deno.args.includes("--quick"));
