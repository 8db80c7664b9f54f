/**
 * `deno task bench`: dtool against skopeo, side by side, on two throw-away local registries.
 *
 * Usage: deno task bench [--quick] [--only A,C] [--json FILE]
 *        deno task bench --sync   (dtool sync vs skopeo sync: see bench_sync.ts)
 *        deno task bench --referrers   (copy of 20 referrers, with and without the API:
 *                                       see bench_referrers.ts; skopeo copies none)
 *
 * Scenarios (sizes divided by 16 with `--quick`):
 * - A: copy of 8 layers × 64 MiB          (2 runs, fresh destination repositories each run)
 * - B: copy of 1 layer × 1 GiB            (2 runs, fresh destination repositories each run)
 * - C: copy of 60 layers × 10 KiB         (5 runs, fresh destination repositories each run)
 * - D: re-copy of A onto each tool's own earlier destination: nothing to upload (5 runs)
 * - E: inspect of image A                 (5 runs)
 * - F: list-tags of a repository with 150 tags (5 runs)
 * - G: copy of image A into an `oci-archive:` file  (2 runs, a new archive each run)
 * - H: copy of image A into an `oci:` layout        (2 runs, a new layout each run)
 * - I: copy of image A from an `oci:` layout (written by skopeo) to the registry (2 runs)
 * - J: copy of image B (1 GiB) into an `oci:` layout (2 runs; its peak RSS is the figure)
 * - S: skopeo pushing 8 × 64 MiB into `dtool serve` and into docker-registry, pulling it back from
 *      each, and each server's peak RSS during a 1 GiB push (see bench_serve.ts)
 *
 * Beside the scenarios: start-up of short commands (inspect, list-tags, digest when the command
 * exists, --version) run as `deno run -A cli.ts`, as the one-file bundle (`deno run -A
 * dtool.js`, built into the work dir) and as skopeo, interleaved, 9 runs each; and every dtool
 * copy once more as `deno run -A cli.ts` with no V8 flags, for its peak RSS and CPU. Copy
 * scenarios report CPU seconds per GiB copied for both tools.
 *
 * Each tool copies to its own destination repositories, so neither finds the other's blobs; the
 * tools alternate which goes first; the table shows medians. Wall time, user+system CPU and peak
 * RSS come from GNU time (`/usr/bin/time`; without it, from polling `/proc/PID`), registry CPU
 * from `/proc/PID/stat`. HTTP requests are counted in one extra `--debug` run of each tool.
 * After every copy the destination manifest digest is checked against the source's.
 *
 * skopeo keeps a blob-info cache (as root `/var/lib/containers/cache`) and uses it to mount
 * blobs it pushed to one repository into another of the same registry. That would turn its
 * second "fresh" copy into a cross-repository mount, so every skopeo destination repository
 * gets its own empty cache (D re-copies with the cache of the copy it repeats).
 *
 * This script prints numbers; it never fails because something is slow. It exits 1 when a copy
 * fails or a destination digest differs from the source.
 *
 * @module
 */
import { sha256Digest } from "../tests/helpers/images.ts";
import { startRegistry, type TestRegistry } from "../tests/helpers/registry.ts";
import { skopeoBytes, skopeoInspectRaw } from "../tests/helpers/skopeo.ts";
import { addTags } from "../tests/helpers/tags.ts";
import { type BenchImage, type BenchImageSpec, pushBenchImage } from "./bench_images.ts";
import { serveBench } from "./bench_serve.ts";
import { PERMISSIONS, V8_FLAGS } from "./compile.ts";
import { buildBundle } from "./bundle.ts";

type Tool = "dtool" | "skopeo";
type ScenarioId = "A" | "B" | "C" | "D" | "E" | "F" | "G" | "H" | "I" | "J";
type Kind = "copy" | "recopy" | "inspect" | "list-tags" | "archive" | "from-layout";

interface Scenario {
  id: ScenarioId;
  kind: Kind;
  title: string;
  runs: number;
  /** For local destinations: the transport written (default oci-archive). */
  local?: "oci" | "oci-archive";
  /** The source image (default A). */
  image?: "A" | "B";
}

const MiB = 1024 * 1024;
const SCENARIOS: Scenario[] = [
  { id: "A", kind: "copy", title: "copy", runs: 2 },
  { id: "B", kind: "copy", title: "copy", runs: 2 },
  { id: "C", kind: "copy", title: "copy", runs: 5 },
  { id: "D", kind: "recopy", title: "re-copy A (present)", runs: 5 },
  { id: "E", kind: "inspect", title: "inspect A", runs: 5 },
  { id: "F", kind: "list-tags", title: "list-tags (150)", runs: 5 },
  { id: "G", kind: "archive", title: "copy A into oci-archive:", runs: 2 },
  { id: "H", kind: "archive", title: "copy A into oci:", runs: 2, local: "oci" },
  { id: "I", kind: "from-layout", title: "copy A from oci: to a registry", runs: 2 },
  {
    id: "J",
    kind: "archive",
    title: "copy B (1 GiB) into oci:",
    runs: 2,
    local: "oci",
    image: "B",
  },
];
const TAG_COUNT = 150;

function imageSpecs(div: number): Record<"A" | "B" | "C", BenchImageSpec> {
  return {
    A: { layers: 8, layerSize: (64 * MiB) / div },
    B: { layers: 1, layerSize: 1024 * MiB / div },
    C: { layers: 60, layerSize: (10 * 1024) / div },
  };
}

/** `67108864` → `"64 MiB"`. */
function size(bytes: number): string {
  for (const [unit, n] of [["GiB", 1024 * MiB], ["MiB", MiB], ["KiB", 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n} ${unit}`;
  }
  return `${bytes} B`;
}

const REPO_DIR = decodeURIComponent(new URL("..", import.meta.url).pathname);
const CLI = `${REPO_DIR}cli.ts`;
const GNU_TIME = "/usr/bin/time";
const CLK_TCK = 100;

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  quick: boolean;
  only: ScenarioId[];
  /** Run scenario S (dtool serve against docker-registry). */
  serve: boolean;
  json?: string;
}

const USAGE = "usage: deno task bench [--quick] [--only A,B,C,D,E,F,G,H,I,J,S] [--json FILE]";

function parseOptions(args: string[]): Options {
  const opts: Options = { quick: false, only: SCENARIOS.map((s) => s.id), serve: true };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === "--quick") opts.quick = true;
    else if (flag === "--json") opts.json = value();
    else if (flag === "--only") {
      const ids = value().toUpperCase().split(",").map((s) => s.trim()).filter(Boolean);
      const bad = ids.filter((id) => id !== "S" && !SCENARIOS.some((s) => s.id === id));
      if (bad.length || !ids.length) throw new Error(`--only: unknown scenario ${bad}\n${USAGE}`);
      opts.serve = ids.includes("S");
      opts.only = ids.filter((id) => id !== "S") as ScenarioId[];
    } else if (flag === "-h" || flag === "--help") {
      console.log(USAGE);
      Deno.exit(0);
    } else throw new Error(`unknown argument ${args[i]}\n${USAGE}`);
  }
  return opts;
}

// ---------------------------------------------------------------------------------------------
// Processes: measured runs, and cleanup of everything started

const active = new Set<number>();
const registryPids: number[] = [];
const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
/** Set on SIGINT/SIGTERM: nothing new is started, and what runs is being killed. */
let aborted = false;

class Interrupted extends Error {}

// Deno reads nothing under /proc without --allow-all, which `deno task bench` does not grant;
// --allow-run does, so /proc is read through `cat` and `pgrep`.

async function capture(cmd: string, args: string[]): Promise<string | undefined> {
  const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "null" })
    .output();
  return out.success ? new TextDecoder().decode(out.stdout) : undefined;
}

/** Pids whose parent is `pid`, recursively (GNU time forks the measured command). */
async function descendants(pid: number): Promise<number[]> {
  const out: number[] = [];
  const kids = (await capture("pgrep", ["-P", String(pid)]))?.split(/\s+/).filter(Boolean) ?? [];
  for (const k of kids.map(Number)) out.push(k, ...await descendants(k));
  return out;
}

async function killTree(pid: number): Promise<void> {
  for (const p of [...(await descendants(pid)).reverse(), pid]) {
    try {
      Deno.kill(p, "SIGTERM");
    } catch { /* gone */ }
  }
}

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    // Everything this process started, the registries aside (their stop() awaits them):
    // measured runs with what GNU time forked, and skopeo pushes of the source images.
    for (const pid of active) await killTree(pid);
    const registries = new Set(registryPids);
    for (const pid of await descendants(Deno.pid)) {
      if (registries.has(pid)) continue;
      try {
        Deno.kill(pid, "SIGTERM");
      } catch { /* gone */ }
    }
    for (const c of cleanups.reverse()) await c().catch(() => {});
  })();
  return cleaning;
}

/** utime+stime of a process in seconds, or NaN when it is gone. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await capture("cat", [`/proc/${pid}/stat`]);
  if (!stat) return NaN;
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** The pid of a helper-started registry (`docker-registry serve DIR/config.yml`). */
async function registryPid(reg: TestRegistry): Promise<number> {
  const pids = await capture("pgrep", ["-f", "--", `serve ${reg.dir}/config.yml`]);
  const pid = Number(pids?.trim().split("\n")[0]);
  if (!pid) throw new Error(`cannot find the pid of the registry in ${reg.dir}`);
  return pid;
}

interface Measured {
  ok: boolean;
  code: number;
  stdout: string;
  stderr: string;
  wallS: number;
  cpuS: number;
  rssMiB: number;
  /** CPU seconds the source / destination registries spent during the run. */
  srcRegCpuS: number;
  dstRegCpuS: number;
}

interface Env {
  tmp: string;
  src: TestRegistry;
  dst: TestRegistry;
  srcPid: number;
  dstPid: number;
  gnuTime: boolean;
}

let timeFiles = 0;

/** Runs `cmd args` to completion, measuring wall time, CPU, peak RSS and registry CPU. */
async function measure(
  env: Env,
  cmd: string,
  args: string[],
  childEnv?: Record<string, string>,
): Promise<Measured> {
  if (aborted) throw new Interrupted("interrupted");
  const timeFile = `${env.tmp}/time-${timeFiles++}.txt`;
  const full = env.gnuTime ? ["-f", "%M %U %S", "-o", timeFile, cmd, ...args] : args;
  const src0 = await cpuSeconds(env.srcPid);
  const dst0 = await cpuSeconds(env.dstPid);
  const t0 = performance.now();
  const child = new Deno.Command(env.gnuTime ? GNU_TIME : cmd, {
    args: full,
    cwd: REPO_DIR,
    env: childEnv,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  active.add(child.pid);
  // Without GNU time: VmHWM and CPU polled every 20 ms while the process lives.
  let hwmKiB = 0;
  let cpu = 0;
  let running = true;
  const poller = env.gnuTime ? Promise.resolve() : (async () => {
    while (running) {
      const status = await capture("cat", [`/proc/${child.pid}/status`]);
      const c = await cpuSeconds(child.pid);
      if (status && running) {
        hwmKiB = Math.max(hwmKiB, Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0));
        if (!Number.isNaN(c)) cpu = c;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  let out: Deno.CommandOutput;
  try {
    out = await child.output();
  } finally {
    active.delete(child.pid);
    running = false;
  }
  await poller;
  if (aborted) throw new Interrupted("interrupted");
  const wallS = (performance.now() - t0) / 1000;
  const m: Measured = {
    ok: out.success,
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
    wallS,
    cpuS: cpu,
    rssMiB: hwmKiB / 1024,
    srcRegCpuS: (await cpuSeconds(env.srcPid)) - src0,
    dstRegCpuS: (await cpuSeconds(env.dstPid)) - dst0,
  };
  if (env.gnuTime) {
    // On failure GNU time writes "Command exited with non-zero status N" first.
    const last = (await Deno.readTextFile(timeFile)).trim().split("\n").at(-1) ?? "";
    const [rss, user, sys] = last.split(" ").map(Number);
    m.rssMiB = rss / 1024;
    m.cpuS = user + sys;
    await Deno.remove(timeFile).catch(() => {});
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// The two tools

/** skopeo environment with a private blob-info cache in `dir` (see the module doc). */
async function skopeoEnv(env: Env, name: string): Promise<Record<string, string>> {
  const dir = `${env.tmp}/skopeo-cache/${name.replace(/[^A-Za-z0-9._-]/g, "_")}`;
  await Deno.mkdir(dir, { recursive: true });
  // c/image puts the cache under $XDG_DATA_HOME when it believes it runs rootless.
  return { _CONTAINERS_ROOTLESS_UID: "65534", XDG_DATA_HOME: dir };
}

function dtoolArgs(sub: string[], debug: boolean): string[] {
  const [cmd, ...rest] = sub;
  return ["run", ...V8_FLAGS, ...PERMISSIONS, CLI, cmd, ...(debug ? ["--debug"] : []), ...rest];
}

async function runCopy(
  env: Env,
  tool: Tool,
  src: string,
  dest: string,
  debug = false,
  plainDeno = false,
): Promise<Measured> {
  if (tool === "dtool") {
    const sub = ["copy", "--quiet", withTransport(src), withTransport(dest)];
    const args = plainDeno ? ["run", "-A", CLI, ...sub] : dtoolArgs(sub, debug);
    return await measure(env, Deno.execPath(), args);
  }
  return await measure(env, "skopeo", [
    "--insecure-policy",
    ...(debug ? ["--debug"] : []),
    "copy",
    "--quiet",
    "--src-tls-verify=false",
    "--dest-tls-verify=false",
    withTransport(src),
    withTransport(dest),
  ], await skopeoEnv(env, dest));
}

/** A registry reference gets `docker://`; one with its own transport (`oci-archive:/…`) is kept. */
function withTransport(ref: string): string {
  return /^[a-z-]+:\//.test(ref) ? ref : `docker://${ref}`;
}

async function runRead(
  env: Env,
  tool: Tool,
  command: "inspect" | "list-tags",
  ref: string,
  debug = false,
): Promise<Measured> {
  if (tool === "dtool") {
    return await measure(env, Deno.execPath(), dtoolArgs([command, `docker://${ref}`], debug));
  }
  return await measure(env, "skopeo", [
    "--insecure-policy",
    ...(debug ? ["--debug"] : []),
    command,
    "--tls-verify=false",
    `docker://${ref}`,
  ], await skopeoEnv(env, "read"));
}

/** HTTP requests a `--debug` run made, from the tool's own trace. */
function countRequests(tool: Tool, m: Measured): number | null {
  if (tool === "dtool") {
    const line = m.stderr.trim().split("\n").findLast((l) =>
      /^dtool: debug: \d+ HTTP requests/.test(l)
    );
    return line ? Number(line.match(/debug: (\d+)/)![1]) : null;
  }
  // c/image logs `METHOD URL` before every request it sends, pings included.
  const n =
    m.stderr.split("\n").filter((l) => /msg="(GET|HEAD|PUT|POST|PATCH|DELETE) https?:\/\//.test(l))
      .length;
  return n > 0 ? n : null;
}

// ---------------------------------------------------------------------------------------------
// Results

interface RunRecord extends Omit<Measured, "stdout" | "stderr"> {
  tool: Tool;
  run: number;
  position: "first" | "second";
}

interface ToolSummary {
  wallS: number | null;
  mibPerS: number | null;
  cpuS: number | null;
  rssMiB: number | null;
  srcRegCpuS: number | null;
  dstRegCpuS: number | null;
  requests: number | null;
  failedRuns: number;
}

interface ScenarioResult {
  id: ScenarioId;
  title: string;
  blobBytes: number | null;
  runs: RunRecord[];
  /** dtool copies run as `deno run -A cli.ts` (no V8 flags): medians. */
  plain?: { rssMiB: number | null; cpuS: number | null };
  dtool: ToolSummary;
  skopeo: ToolSummary;
  failures: string[];
}

const failures: string[] = [];

function fail(result: ScenarioResult, line: string): void {
  const msg = `FAIL ${result.id}: ${line}`;
  console.log(msg);
  result.failures.push(line);
  failures.push(msg);
}

function median(xs: number[]): number | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function summarize(r: ScenarioResult, tool: Tool, bytes: number | null): ToolSummary {
  const runs = r.runs.filter((x) => x.tool === tool && x.ok);
  const wallS = median(runs.map((x) => x.wallS));
  return {
    wallS,
    mibPerS: bytes !== null && wallS ? bytes / MiB / wallS : null,
    cpuS: median(runs.map((x) => x.cpuS)),
    rssMiB: median(runs.map((x) => x.rssMiB)),
    srcRegCpuS: median(runs.map((x) => x.srcRegCpuS)),
    dstRegCpuS: median(runs.map((x) => x.dstRegCpuS)),
    requests: null,
    failedRuns: r.runs.filter((x) => x.tool === tool && !x.ok).length,
  };
}

function emptySummary(): ToolSummary {
  return {
    wallS: null,
    mibPerS: null,
    cpuS: null,
    rssMiB: null,
    srcRegCpuS: null,
    dstRegCpuS: null,
    requests: null,
    failedRuns: 0,
  };
}

function record(r: ScenarioResult, tool: Tool, run: number, first: boolean, m: Measured): void {
  const { stdout: _o, stderr, ...rest } = m;
  r.runs.push({ tool, run, position: first ? "first" : "second", ...rest });
  if (!m.ok) {
    fail(
      r,
      `${tool} run ${run} exited ${m.code}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`,
    );
  }
}

async function verifyDigest(r: ScenarioResult, tool: Tool, dest: string, want: string) {
  try {
    const got = sha256Digest(await skopeoInspectRaw(dest));
    if (got !== want) fail(r, `${tool} copy to ${dest}: manifest digest ${got}, source ${want}`);
  } catch (e) {
    fail(r, `${tool} copy to ${dest}: cannot read the manifest back: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

function order(run: number): Tool[] {
  return run % 2 === 1 ? ["dtool", "skopeo"] : ["skopeo", "dtool"];
}

function progress(r: ScenarioResult, run: number, tool: Tool, m: Measured): void {
  console.error(
    `  ${r.id} run ${run} ${tool.padEnd(6)} ${m.wallS.toFixed(2)} s, cpu ${m.cpuS.toFixed(2)} s, ` +
      `rss ${m.rssMiB.toFixed(0)} MiB${m.ok ? "" : ` (exit ${m.code})`}`,
  );
}

/** Copies `img` with each tool to fresh destinations; returns each tool's last destination. */
async function copyScenario(
  env: Env,
  sc: Scenario,
  r: ScenarioResult,
  img: BenchImage,
): Promise<Record<Tool, string>> {
  const last = {} as Record<Tool, string>;
  for (let run = 1; run <= sc.runs; run++) {
    for (const [i, tool] of order(run).entries()) {
      const dest = `${env.dst.host}/bench/${sc.id.toLowerCase()}-${tool}-r${run}:1`;
      const m = await runCopy(env, tool, img.ref, dest);
      progress(r, run, tool, m);
      record(r, tool, run, i === 0, m);
      if (m.ok) await verifyDigest(r, tool, dest, img.digest);
      last[tool] = dest;
    }
  }
  // The same copy as `deno run -A cli.ts`, without the V8 flags of `deno task dtool`.
  const plain: Measured[] = [];
  for (let run = 1; run <= sc.runs; run++) {
    const dest = `${env.dst.host}/bench/${sc.id.toLowerCase()}-dtool-plain-r${run}:1`;
    const m = await runCopy(env, "dtool", img.ref, dest, false, true);
    console.error(
      `  ${r.id} run ${run} dtool (deno run -A cli.ts) ${m.wallS.toFixed(2)} s, ` +
        `cpu ${m.cpuS.toFixed(2)} s, rss ${m.rssMiB.toFixed(0)} MiB`,
    );
    if (m.ok) {
      plain.push(m);
      await verifyDigest(r, "dtool", dest, img.digest);
    } else fail(r, `dtool (deno run -A cli.ts) run ${run} exited ${m.code}`);
  }
  r.plain = {
    rssMiB: median(plain.map((m) => m.rssMiB)),
    cpuS: median(plain.map((m) => m.cpuS)),
  };
  for (const tool of ["dtool", "skopeo"] as Tool[]) {
    const dest = `${env.dst.host}/bench/${sc.id.toLowerCase()}-${tool}-debug:1`;
    const m = await runCopy(env, tool, img.ref, dest, true);
    r[tool].requests = countRequests(tool, m);
    if (m.ok) await verifyDigest(r, tool, dest, img.digest);
    else fail(r, `${tool} --debug run exited ${m.code}`);
  }
  return last;
}

/** Copies `img` with each tool into a new `oci-archive:` file per run, checked and removed after. */
async function archiveScenario(
  env: Env,
  sc: Scenario,
  r: ScenarioResult,
  img: BenchImage,
): Promise<void> {
  for (let run = 0; run <= sc.runs; run++) {
    for (const [i, tool] of order(Math.max(run, 1)).entries()) {
      const oci = sc.local === "oci";
      const path = `${env.tmp}/${sc.id.toLowerCase()}-${tool}-r${run}${oci ? "" : ".tar"}`;
      const dest = `${oci ? "oci" : "oci-archive"}:${path}:1`;
      const debug = run === 0; // the --debug run counts requests and is not timed
      const m = await runCopy(env, tool, img.ref, dest, debug);
      if (debug) r[tool].requests = countRequests(tool, m);
      else {
        progress(r, run, tool, m);
        record(r, tool, run, i === 0, m);
      }
      if (!m.ok) fail(r, `${tool} copy to ${dest} exited ${m.code}`);
      else {
        const got = sha256Digest(await skopeoBytes(["inspect", "--raw", dest]));
        if (got !== img.digest) {
          fail(r, `${tool} copy to ${dest}: digest ${got}, source ${img.digest}`);
        }
      }
      await Deno.remove(path, { recursive: true }).catch(() => {});
    }
  }
}

/**
 * Copies `img` with each tool from an OCI layout (written once by skopeo,
 * not measured) to new repositories of the destination registry.
 */
async function fromLayoutScenario(
  env: Env,
  sc: Scenario,
  r: ScenarioResult,
  img: BenchImage,
): Promise<void> {
  const layout = `oci:${env.tmp}/layout-${sc.id.toLowerCase()}:1`;
  await skopeoBytes([
    "copy",
    "--quiet",
    "--preserve-digests",
    "--src-tls-verify=false",
    `docker://${img.ref}`,
    layout,
  ]);
  for (let run = 0; run <= sc.runs; run++) {
    for (const [i, tool] of order(Math.max(run, 1)).entries()) {
      const dest = `${env.dst.host}/bench/${sc.id.toLowerCase()}-${tool}-r${run}:1`;
      const debug = run === 0; // the --debug run counts requests and is not timed
      const m = await runCopy(env, tool, layout, dest, debug);
      if (debug) r[tool].requests = countRequests(tool, m);
      else {
        progress(r, run, tool, m);
        record(r, tool, run, i === 0, m);
      }
      if (!m.ok) fail(r, `${tool} copy from ${layout} exited ${m.code}`);
      else await verifyDigest(r, tool, dest, img.digest);
    }
  }
}

async function recopyScenario(
  env: Env,
  sc: Scenario,
  r: ScenarioResult,
  img: BenchImage,
  dests: Record<Tool, string>,
): Promise<void> {
  for (let run = 1; run <= sc.runs; run++) {
    for (const [i, tool] of order(run).entries()) {
      const m = await runCopy(env, tool, img.ref, dests[tool]);
      progress(r, run, tool, m);
      record(r, tool, run, i === 0, m);
      if (m.ok) await verifyDigest(r, tool, dests[tool], img.digest);
    }
  }
  for (const tool of ["dtool", "skopeo"] as Tool[]) {
    const m = await runCopy(env, tool, img.ref, dests[tool], true);
    r[tool].requests = countRequests(tool, m);
    if (!m.ok) fail(r, `${tool} --debug run exited ${m.code}`);
  }
}

async function readScenario(
  env: Env,
  sc: Scenario,
  r: ScenarioResult,
  ref: string,
  check: (tool: Tool, stdout: string) => string | undefined,
): Promise<void> {
  const command = sc.kind === "inspect" ? "inspect" : "list-tags";
  for (let run = 1; run <= sc.runs; run++) {
    for (const [i, tool] of order(run).entries()) {
      const m = await runRead(env, tool, command, ref);
      progress(r, run, tool, m);
      record(r, tool, run, i === 0, m);
      const problem = m.ok ? check(tool, m.stdout) : undefined;
      if (problem) fail(r, `${tool} ${command} run ${run}: ${problem}`);
    }
  }
  for (const tool of ["dtool", "skopeo"] as Tool[]) {
    const m = await runRead(env, tool, command, ref, true);
    r[tool].requests = countRequests(tool, m);
    if (!m.ok) fail(r, `${tool} --debug run exited ${m.code}`);
  }
}

function checkInspect(digest: string) {
  return (_tool: Tool, stdout: string): string | undefined => {
    try {
      const got = JSON.parse(stdout).Digest;
      return got === digest ? undefined : `Digest ${got}, expected ${digest}`;
    } catch {
      return "output is not JSON";
    }
  };
}

function checkTags(_tool: Tool, stdout: string): string | undefined {
  try {
    const n = JSON.parse(stdout).Tags?.length;
    return n === TAG_COUNT ? undefined : `${n} tags, expected ${TAG_COUNT}`;
  } catch {
    return "output is not JSON";
  }
}

// ---------------------------------------------------------------------------------------------
// Start-up of short commands: cli.ts, the bundle and skopeo

type Runner = "cli.ts" | "bundle" | "skopeo";
const RUNNERS: Runner[] = ["cli.ts", "bundle", "skopeo"];
const STARTUP_RUNS = 9;

/** Median wall seconds of each way to run a short command, interleaved run by run. */
interface StartupRow {
  command: string;
  wallS: Record<Runner, number | null>;
}

async function startupComparison(env: Env, inspectRef: string, tagsRepo: string) {
  const bundle = await buildBundle(`${env.tmp}/bundle`);
  const dtool = (runner: Runner, args: string[]) =>
    runner === "cli.ts" ? ["run", "-A", CLI, ...args] : ["run", "-A", bundle, ...args];
  // `digest` is listed in the help once a branch has it (`digest --help` would show the root's).
  const help = await measure(env, Deno.execPath(), dtool("cli.ts", ["--help"]));
  const hasDigest = /^\s+digest\b/m.test(help.stdout);
  const commands: { name: string; dtool: string[]; skopeo: string[] }[] = [
    { name: "--version", dtool: ["--version"], skopeo: ["--version"] },
    {
      name: "inspect",
      dtool: ["inspect", `docker://${inspectRef}`],
      skopeo: ["inspect", "--tls-verify=false", `docker://${inspectRef}`],
    },
    {
      name: "list-tags",
      dtool: ["list-tags", `docker://${tagsRepo}`],
      skopeo: ["list-tags", "--tls-verify=false", `docker://${tagsRepo}`],
    },
  ];
  if (hasDigest) {
    commands.push({
      name: "digest",
      dtool: ["digest", `docker://${inspectRef}`],
      skopeo: [
        "inspect",
        "--no-tags",
        "--tls-verify=false",
        "--format",
        "{{.Digest}}",
        `docker://${inspectRef}`,
      ],
    });
  } else console.error("bench: no digest command on this branch; start-up of digest skipped");
  const skopeoEnvRead = await skopeoEnv(env, "read");
  const rows: StartupRow[] = [];
  for (const c of commands) {
    const times: Record<Runner, number[]> = { "cli.ts": [], bundle: [], skopeo: [] };
    for (let run = 0; run < STARTUP_RUNS; run++) {
      for (let k = 0; k < RUNNERS.length; k++) {
        const runner = RUNNERS[(run + k) % RUNNERS.length];
        const m = runner === "skopeo"
          ? await measure(env, "skopeo", ["--insecure-policy", ...c.skopeo], skopeoEnvRead)
          : await measure(env, Deno.execPath(), dtool(runner, c.dtool));
        if (!m.ok) {
          failures.push(`FAIL start-up ${c.name} (${runner}): exit ${m.code}: ${m.stderr.trim()}`);
        } else times[runner].push(m.wallS);
      }
    }
    rows.push({
      command: c.name,
      wallS: {
        "cli.ts": median(times["cli.ts"]),
        bundle: median(times.bundle),
        skopeo: median(times.skopeo),
      },
    });
    console.error(`bench: start-up ${c.name} measured`);
  }
  return rows;
}

function printStartup(rows: StartupRow[]): void {
  const ratio = (a: number | null, b: number | null) => (a !== null && b ? fmt(a / b) : "-");
  const t = [[
    "start-up (wall s, medians)",
    "deno run -A cli.ts",
    "deno run -A dtool.js",
    "skopeo",
    "cli.ts/skopeo",
    "bundle/skopeo",
  ]];
  for (const r of rows) {
    t.push([
      r.command,
      fmt(r.wallS["cli.ts"], 3),
      fmt(r.wallS.bundle, 3),
      fmt(r.wallS.skopeo, 3),
      ratio(r.wallS["cli.ts"], r.wallS.skopeo),
      ratio(r.wallS.bundle, r.wallS.skopeo),
    ]);
  }
  console.log(`\n${table(t)}`);
}

// ---------------------------------------------------------------------------------------------
// Output

function fmt(v: number | null, digits = 2): string {
  return v === null ? "-" : v.toFixed(digits);
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ");
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)]
    .join("\n");
}

function printResults(results: ScenarioResult[], startup: Startup, opts: Options): void {
  const label = (r: ScenarioResult) => `${r.id} ${r.title}`;
  const req = (s: ToolSummary) => (s.requests === null ? "n/a" : String(s.requests));
  const wall = (s: ToolSummary) => (s.failedRuns && s.wallS === null ? "FAIL" : fmt(s.wallS));
  const main = [[
    "scenario",
    "dtool s",
    "skopeo s",
    "dtool/skopeo",
    "dtool MiB/s",
    "skopeo MiB/s",
    "dtool RSS MiB",
    "skopeo RSS MiB",
    "dtool req",
    "skopeo req",
  ]];
  for (const r of results) {
    const { dtool: d, skopeo: s } = r;
    const copy = r.id === "A" || r.id === "B" || r.id === "C";
    main.push([
      label(r),
      wall(d),
      wall(s),
      d.wallS !== null && s.wallS ? fmt(d.wallS / s.wallS) : "-",
      copy ? fmt(d.mibPerS, 1) : "-",
      copy ? fmt(s.mibPerS, 1) : "-",
      fmt(d.rssMiB, 0),
      fmt(s.rssMiB, 0),
      req(d),
      req(s),
    ]);
  }
  const cpu = [[
    "scenario",
    "dtool cpu s",
    "skopeo cpu s",
    "dtool cpu s/GiB",
    "skopeo cpu s/GiB",
    "src reg cpu (dtool/skopeo)",
    "dst reg cpu (dtool/skopeo)",
  ]];
  const GiB = 1024 * MiB;
  const perGiB = (r: ScenarioResult, c: number | null) =>
    r.blobBytes && c !== null && r.plain ? fmt(c / (r.blobBytes / GiB)) : "-";
  for (const r of results) {
    const { dtool: d, skopeo: s } = r;
    cpu.push([
      label(r),
      fmt(d.cpuS),
      fmt(s.cpuS),
      perGiB(r, d.cpuS),
      perGiB(r, s.cpuS),
      `${fmt(d.srcRegCpuS)} / ${fmt(s.srcRegCpuS)}`,
      `${fmt(d.dstRegCpuS)} / ${fmt(s.dstRegCpuS)}`,
    ]);
  }
  console.log(
    `\ndtool vs skopeo${opts.quick ? " (--quick: sizes ÷ 16)" : ""}, medians; ` +
      `requests from one --debug run each`,
  );
  console.log(table(main));
  const st = (t: Tool) =>
    `${fmt(startup[t].wallS)} s wall, ${fmt(startup[t].cpuS)} s cpu, ${
      fmt(startup[t].rssMiB, 0)
    } MiB`;
  console.log(`startup alone (--version): dtool ${st("dtool")}; skopeo ${st("skopeo")}`);
  for (const r of results.filter((r) => r.plain)) {
    console.log(
      `${label(r)} as \`deno run -A cli.ts\` (no V8 flags): RSS ${fmt(r.plain!.rssMiB, 0)} MiB, ` +
        `cpu ${fmt(r.plain!.cpuS)} s (with --v8-flags, as above: ${fmt(r.dtool.rssMiB, 0)} MiB)`,
    );
  }
  console.log("\nCPU seconds (user+system), medians");
  console.log(table(cpu));
  if (failures.length) console.log(`\n${failures.length} failure(s):\n${failures.join("\n")}`);
}

// ---------------------------------------------------------------------------------------------
// Main

async function hasGnuTime(): Promise<boolean> {
  try {
    const out = await new Deno.Command(GNU_TIME, {
      args: ["-f", "%M", "true"],
      stdout: "null",
      stderr: "piped",
    }).output();
    return out.success && /^\d+\s*$/.test(new TextDecoder().decode(out.stderr));
  } catch {
    return false;
  }
}

async function versionOf(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout).split("\n")[0].trim();
}

/** Median cost of starting each tool (`--version`). */
type Startup = Record<Tool, { wallS: number | null; cpuS: number | null; rssMiB: number | null }>;

async function bench(
  opts: Options,
): Promise<{ results: ScenarioResult[]; startup: Startup; startupRows: StartupRow[] }> {
  const selected = SCENARIOS.filter((s) => opts.only.includes(s.id));
  const tmp = await Deno.makeTempDir({ prefix: "dtool-bench-" });
  cleanups.push(() => Deno.remove(tmp, { recursive: true }));
  const gnuTime = await hasGnuTime();
  if (!gnuTime) console.error("bench: no GNU time; polling /proc/PID/status for VmHWM instead");

  const src = await startRegistry();
  cleanups.push(() => src.stop());
  const dst = await startRegistry();
  cleanups.push(() => dst.stop());
  const env: Env = {
    tmp,
    src,
    dst,
    srcPid: await registryPid(src),
    dstPid: await registryPid(dst),
    gnuTime,
  };
  registryPids.push(env.srcPid, env.dstPid);
  console.error(`bench: source registry ${src.host}, destination ${dst.host}, work dir ${tmp}`);

  // Source images, built once and only when a selected scenario needs them.
  const specs = imageSpecs(opts.quick ? 16 : 1);
  const pushEnv = await skopeoEnv(env, "push");
  const images: Partial<Record<"A" | "B" | "C", BenchImage>> = {};
  const needs = (id: ScenarioId) => selected.some((s) => s.id === id);
  for (const id of ["A", "B", "C"] as const) {
    const wanted = needs(id) ||
      (id === "A" && ["D", "E", "G", "H", "I"].some((d) => needs(d as ScenarioId))) ||
      (id === "B" && needs("J"));
    if (!wanted) continue;
    const t0 = performance.now();
    images[id] = await pushBenchImage(
      src.host,
      `bench/${id.toLowerCase()}:1`,
      specs[id],
      tmp,
      pushEnv,
    );
    console.error(
      `bench: pushed image ${id} (${specs[id].layers} × ${specs[id].layerSize} B) in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  }
  // A tiny image: warm-up for both tools, and the repository for F.
  const tiny = await pushBenchImage(
    src.host,
    "bench/tags:t000",
    { layers: 1, layerSize: 1024 },
    tmp,
    pushEnv,
  );
  if (needs("F")) {
    const tags = Array.from(
      { length: TAG_COUNT - 1 },
      (_, i) => `t${String(i + 1).padStart(3, "0")}`,
    );
    await addTags(src, "bench/tags", tags, "t000");
  }

  // Warm-up, not measured: Deno's module and npm caches, skopeo's binary in the page cache.
  for (const tool of ["dtool", "skopeo"] as Tool[]) {
    const w = [
      await runCopy(env, tool, tiny.ref, `${dst.host}/bench/warmup-${tool}:1`),
      await runRead(env, tool, "inspect", tiny.ref),
      await runRead(env, tool, "list-tags", `${src.host}/bench/tags`),
    ];
    const bad = w.find((m) => !m.ok);
    if (bad) throw new Error(`${tool} warm-up failed (exit ${bad.code}): ${bad.stderr.trim()}`);
  }
  // Baseline: what merely starting each tool costs (`--version`, nothing sent).
  const startup = {} as Startup;
  for (const tool of ["dtool", "skopeo"] as Tool[]) {
    const ms: Measured[] = [];
    for (let i = 0; i < 5; i++) {
      ms.push(
        tool === "dtool"
          ? await measure(env, Deno.execPath(), [
            "run",
            ...V8_FLAGS,
            ...PERMISSIONS,
            CLI,
            "--version",
          ])
          : await measure(env, "skopeo", ["--version"]),
      );
    }
    startup[tool] = {
      wallS: median(ms.map((m) => m.wallS)),
      cpuS: median(ms.map((m) => m.cpuS)),
      rssMiB: median(ms.map((m) => m.rssMiB)),
    };
  }

  const startupRows = await startupComparison(
    env,
    images.A?.ref ?? tiny.ref,
    `${src.host}/bench/tags`,
  );

  const results: ScenarioResult[] = [];
  let recopyDests: Record<Tool, string> | undefined;
  for (const sc of selected) {
    const spec = sc.kind === "copy" ? specs[sc.id as "A" | "B" | "C"] : undefined;
    const title = spec ? `copy ${spec.layers} × ${size(spec.layerSize)}` : sc.title;
    console.error(`bench: scenario ${sc.id}: ${title}`);
    const r: ScenarioResult = {
      id: sc.id,
      title,
      blobBytes: null,
      runs: [],
      dtool: emptySummary(),
      skopeo: emptySummary(),
      failures: [],
    };
    if (sc.kind === "copy") {
      const img = images[sc.id as "A" | "B" | "C"]!;
      r.blobBytes = img.blobBytes;
      const last = await copyScenario(env, sc, r, img);
      if (sc.id === "A") recopyDests = last;
    } else if (sc.kind === "archive") {
      const img = images[sc.image ?? "A"]!;
      r.blobBytes = img.blobBytes;
      await archiveScenario(env, sc, r, img);
    } else if (sc.kind === "from-layout") {
      const img = images.A!;
      r.blobBytes = img.blobBytes;
      await fromLayoutScenario(env, sc, r, img);
    } else if (sc.kind === "recopy") {
      const img = images.A!;
      r.blobBytes = img.blobBytes;
      if (!recopyDests) {
        // A did not run: give each tool its own copy of A first (not measured).
        recopyDests = {
          dtool: `${dst.host}/bench/a-dtool-r1:1`,
          skopeo: `${dst.host}/bench/a-skopeo-r1:1`,
        };
        for (const tool of ["dtool", "skopeo"] as Tool[]) {
          const m = await runCopy(env, tool, img.ref, recopyDests[tool]);
          if (!m.ok) throw new Error(`${tool} setup copy for D failed: ${m.stderr.trim()}`);
        }
      }
      await recopyScenario(env, sc, r, img, recopyDests);
    } else if (sc.kind === "inspect") {
      await readScenario(env, sc, r, images.A!.ref, checkInspect(images.A!.digest));
    } else {
      await readScenario(env, sc, r, `${src.host}/bench/tags`, checkTags);
    }
    const copies = ["copy", "archive", "from-layout"].includes(sc.kind) ? r.blobBytes : null;
    const dReq = r.dtool.requests;
    const sReq = r.skopeo.requests;
    r.dtool = { ...summarize(r, "dtool", copies), requests: dReq };
    r.skopeo = { ...summarize(r, "skopeo", copies), requests: sReq };
    results.push(r);
  }
  return { results, startup, startupRows };
}

async function main(): Promise<number> {
  // The sync cases (dtool sync vs skopeo sync) live in their own script.
  if (Deno.args[0] === "--sync") return await (await import("./bench_sync.ts")).main();
  if (Deno.args[0] === "--referrers") {
    await (await import("./bench_referrers.ts")).main(Deno.args.slice(1));
    return 0;
  }
  let opts: Options;
  try {
    opts = parseOptions(Deno.args);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    return 2;
  }
  const onSignal = () => {
    if (aborted) return;
    aborted = true;
    console.error("\nbench: interrupted; stopping processes and removing temp dirs");
    cleanup().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const started = performance.now();
    const loadBefore = Deno.loadavg();
    let results: ScenarioResult[] = [];
    let startup: Startup | undefined;
    let startupRows: StartupRow[] = [];
    if (opts.only.length) {
      ({ results, startup, startupRows } = await bench(opts));
      printResults(results, startup, opts);
      printStartup(startupRows);
    }
    const serve = opts.serve ? await serveBench(opts.quick) : undefined;
    const loadAfter = Deno.loadavg();
    const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
    console.log(
      `load average before ${load(loadBefore)}, after ${load(loadAfter)} ` +
        `(${navigator.hardwareConcurrency} CPUs; other work on the machine skews the numbers)`,
    );
    if (opts.json) {
      const report = {
        date: new Date().toISOString(),
        quick: opts.quick,
        deno: Deno.version.deno,
        skopeo: await versionOf("skopeo", ["--version"]),
        registry: await versionOf("docker-registry", ["--version"]),
        cpus: navigator.hardwareConcurrency,
        loadavg: { before: loadBefore, after: loadAfter },
        totalSeconds: (performance.now() - started) / 1000,
        startup,
        startupCommands: startupRows,
        scenarios: results,
        serve,
        failures,
      };
      await Deno.writeTextFile(opts.json, JSON.stringify(report, null, 2) + "\n");
      console.error(`bench: results written to ${opts.json}`);
    }
    return failures.length ? 1 : 0;
  } catch (e) {
    if (aborted) await new Promise(() => {}); // the signal handler cleans up and exits
    console.error(`bench: ${(e as Error).stack ?? e}`);
    return 1;
  } finally {
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main());
