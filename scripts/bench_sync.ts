/**
 * `deno task bench --sync` (or `deno run -A scripts/bench_sync.ts`): `dtool sync` against
 * `skopeo sync`, side by side in the same run, on two throw-away local registries.
 *
 * - S1: first sync of a YAML naming 8 images of different shapes (small OCI, small Docker,
 *   OCI index of 3 platforms, Docker manifest list, Docker schema 2 with 1 MiB layers, 40 small
 *   layers, 3 × 4 MiB layers) and a 250-tag repository limited by a regex to 50 tags
 *   (57 images); each tool into fresh repositories (and skopeo with a fresh blob-info cache)
 *   every round.
 * - S2: the same YAML again onto each tool's own destination: nothing changed. HTTP requests
 *   counted from one `--debug` run of each tool.
 * - S3: re-sync of the 250-tag repository into an OCI layout when nothing changed (dtool only:
 *   skopeo 1.9 cannot sync into an OCI layout).
 *
 * Medians of the rounds; the tools alternate which goes first. Prints numbers; never fails
 * because something is slow; exits 1 when a sync fails.
 *
 * @module
 */
import { startRegistry, type TestRegistry } from "../tests/helpers/registry.ts";
import { buildImage, buildIndex, pushBuilt } from "../tests/helpers/images.ts";
import { addTags } from "../tests/helpers/tags.ts";
import { PERMISSIONS, V8_FLAGS } from "./compile.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const ROUNDS = Number(Deno.env.get("BENCH_SYNC_ROUNDS") ?? 3);
const MiB = 1024 * 1024;

interface Run {
  seconds: number;
  code: number;
  stderr: string;
}

async function timed(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, { args, env, stdout: "null", stderr: "piped" }).output();
  return {
    seconds: (performance.now() - t0) / 1000,
    code: out.code,
    stderr: new TextDecoder().decode(out.stderr),
  };
}

const dtool = (args: string[]) =>
  timed(Deno.execPath(), ["run", ...V8_FLAGS, ...PERMISSIONS, CLI, "sync", ...args]);

async function skopeoSync(args: string[], cacheDir: string, debug = false): Promise<Run> {
  await Deno.mkdir(cacheDir, { recursive: true });
  return timed("skopeo", [...(debug ? ["--debug"] : []), "--insecure-policy", "sync", ...args], {
    // A fresh blob-info cache: skopeo would otherwise mount blobs it pushed in an earlier round.
    _CONTAINERS_ROOTLESS_UID: "65534",
    XDG_DATA_HOME: cacheDir,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function check(r: Run, what: string): Run {
  if (r.code !== 0) {
    console.error(`${what} failed (exit ${r.code}):\n${r.stderr.slice(-2000)}`);
    Deno.exit(1);
  }
  return r;
}

async function populate(src: TestRegistry): Promise<void> {
  await pushBuilt(src, "shapes/small:1", buildImage("oci", { layers: 1, layerSize: 2048 }));
  await pushBuilt(
    src,
    "shapes/small-docker:1",
    buildImage("docker", { layers: 2, layerSize: 2048 }),
  );
  await pushBuilt(
    src,
    "shapes/index:1",
    buildIndex("oci", ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"], { layerSize: 256 * 1024 }),
  );
  await pushBuilt(
    src,
    "shapes/list:1",
    buildIndex("docker", ["linux/amd64", "linux/arm64/v8"], { layerSize: 256 * 1024 }),
  );
  await pushBuilt(src, "shapes/docker:1", buildImage("docker", { layers: 3, layerSize: MiB }));
  await pushBuilt(
    src,
    "shapes/many-layers:1",
    buildImage("oci", { layers: 40, layerSize: 8 * 1024 }),
  );
  await pushBuilt(src, "shapes/medium:1", buildImage("oci", { layers: 3, layerSize: 4 * MiB }));
  // 250 tags over 10 distinct small images (tags t000…t249; the regex takes t000…t049).
  for (let i = 0; i < 10; i++) {
    const fx = await pushBuilt(
      src,
      `shapes/tags:base${i}`,
      buildImage("oci", { layers: 2, layerSize: 4096 }),
    );
    await addTags(
      src,
      "shapes/tags",
      Array.from({ length: 25 }, (_, j) => `t${String(i + 10 * j).padStart(3, "0")}`),
      fx,
    );
  }
}

const countDtool = (stderr: string) =>
  Number(stderr.match(/debug: (\d+) HTTP requests/)?.[1] ?? NaN);
const countSkopeo = (stderr: string) =>
  stderr.split("\n").filter((l) => /msg="(GET|HEAD|PUT|POST|PATCH|DELETE) https?:/.test(l)).length;

/** Runs the sync cases and prints the table. */
export async function main(): Promise<number> {
  const src = await startRegistry();
  const dst = await startRegistry();
  const tmp = await Deno.makeTempDir({ prefix: "dtool-bench-sync-" });
  try {
    console.log("populating the source registry…");
    await populate(src);
    const yaml = `${tmp}/sync.yaml`;
    const shapes = ["small", "small-docker", "index", "list", "docker", "many-layers", "medium"];
    await Deno.writeTextFile(
      yaml,
      `${src.host}:\n  tls-verify: false\n  images:\n` +
        shapes.map((s) => `    shapes/${s}: ["1"]\n`).join("") +
        `  images-by-tag-regex:\n    shapes/tags: ^t0[0-4]\n`,
    );
    const first: Record<string, number[]> = { dtool: [], skopeo: [] };
    const again: Record<string, number[]> = { dtool: [], skopeo: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const tools = round % 2 ? ["skopeo", "dtool"] : ["dtool", "skopeo"];
      for (const tool of tools) {
        const dest = `${dst.host}/${tool}${round}`;
        const cache = `${tmp}/cache-${round}`;
        const run = () =>
          tool === "dtool"
            ? dtool(["--all", "--src", "yaml", "--dest", "docker", "--quiet", yaml, dest])
            : skopeoSync([
              "--all",
              "--preserve-digests",
              "--src",
              "yaml",
              "--dest",
              "docker",
              "--dest-tls-verify=false",
              yaml,
              dest,
            ], cache);
        first[tool].push(check(await run(), `${tool} first sync`).seconds);
        again[tool].push(check(await run(), `${tool} re-sync`).seconds);
        console.log(
          `round ${round + 1} ${tool}: first ${first[tool].at(-1)!.toFixed(2)}s, again ${
            again[tool].at(-1)!.toFixed(2)
          }s`,
        );
      }
    }
    const dReq = countDtool(
      check(
        await dtool([
          "--all",
          "--src",
          "yaml",
          "--dest",
          "docker",
          "--debug",
          "--quiet",
          yaml,
          `${dst.host}/dtool0`,
        ]),
        "dtool count",
      ).stderr,
    );
    const sReq = countSkopeo(
      check(
        await skopeoSync(
          [
            "--all",
            "--preserve-digests",
            "--src",
            "yaml",
            "--dest",
            "docker",
            "--dest-tls-verify=false",
            yaml,
            `${dst.host}/skopeo0`,
          ],
          `${tmp}/cache-0`,
          true,
        ),
        "skopeo count",
      ).stderr,
    );

    const layout = `${tmp}/layout`;
    const ociArgs = [
      "--src",
      "docker",
      "--dest",
      "oci",
      "--quiet",
      `${src.host}/shapes/tags`,
      layout,
    ];
    check(await dtool(ociArgs), "dtool sync into a layout");
    const oci: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      oci.push(check(await dtool(ociArgs), "dtool re-sync into a layout").seconds);
    }

    const row = (name: string, d: number[], s: number[], target: string) =>
      `${name.padEnd(40)} dtool ${median(d).toFixed(2)}s  skopeo ${median(s).toFixed(2)}s  ratio ${
        (median(d) / median(s)).toFixed(2)
      } (target ${target})`;
    console.log("\nsync benchmark (57 images; medians of " + ROUNDS + " rounds)");
    console.log(row("S1 first sync of the YAML", first.dtool, first.skopeo, "≤ 0.40"));
    console.log(row("S2 re-sync, nothing changed", again.dtool, again.skopeo, "≤ 0.35"));
    console.log(`${"   requests of a re-sync".padEnd(40)} dtool ${dReq}  skopeo ${sReq}`);
    console.log(
      `${"S3 re-sync of 250 tags into a layout".padEnd(40)} dtool ${
        median(oci).toFixed(2)
      }s (target < 2 s)`,
    );
    return 0;
  } finally {
    await src.stop();
    await dst.stop();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main());
