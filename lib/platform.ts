/**
 * Container platforms: parse, normalise, format, match and order them with the
 * rules of containerd's `platforms` package, so `--platform` means in dtool
 * what it means to containerd, nerdctl and buildkit.
 *
 * Specifier syntax: `<os>[(<os.version>[+<os.feature>]*)][/<arch>[/<variant>]]`,
 * or a lone `<arch>`.
 *
 * @module
 */
import { InvalidPlatformError, NotFoundError } from "./errors.ts";
import type { Descriptor, Index } from "./manifest.ts";

/**
 * A platform, shaped like the `platform` object of OCI descriptors and image
 * configs (same JSON keys). Empty optional fields are left out, never `""`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Platform } from "./platform.ts";
 * const p: Platform = { os: "windows", architecture: "amd64", "os.version": "10.0.20348" };
 * assert.deepEqual(p.architecture, "amd64");
 * ```
 */
export interface Platform {
  /** Operating system, e.g. `linux`, `windows`, `darwin`. */
  os: string;
  /** CPU architecture in Go's naming, e.g. `amd64`, `arm64`, `arm`. */
  architecture: string;
  /** CPU variant, e.g. `v7` for arm or `v2` for amd64. */
  variant?: string;
  /** OS version; only Windows gives it meaning when matching. */
  "os.version"?: string;
  /** OS features the image needs, e.g. `win32k`. */
  "os.features"?: string[];
}

/**
 * Decides which platforms are acceptable for a wanted one, and which of two
 * is preferable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePlatform, platformMatcher } from "./platform.ts";
 * const m = platformMatcher(parsePlatform("linux/amd64"));
 * assert.equal(m.match(parsePlatform("linux/386")), true);
 * ```
 */
export interface PlatformMatcher {
  /** Tells whether `p` can be used in place of the wanted platform. */
  match(p: Platform): boolean;
  /** Tells whether `a` is strictly preferable to `b`; unmatched sort after matched. */
  less(a: Platform, b: Platform): boolean;
}

// The grammar of containerd's specifiers: the first component may carry
// `(version+feature+…)`, the others are plain words.
const COMPONENT_RE = /^[A-Za-z0-9_.-]+$/;
const OS_RE = /^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$/;

// Go's list of GOOS and GOARCH values, which containerd uses to tell whether
// a lone word names an OS or an architecture.
const KNOWN_OS = new Set([
  "aix",
  "android",
  "darwin",
  "dragonfly",
  "freebsd",
  "hurd",
  "illumos",
  "ios",
  "js",
  "linux",
  "nacl",
  "netbsd",
  "openbsd",
  "plan9",
  "solaris",
  "windows",
  "zos",
]);
const KNOWN_ARCH = new Set([
  "386",
  "amd64",
  "amd64p32",
  "arm",
  "armbe",
  "arm64",
  "arm64be",
  "ppc64",
  "ppc64le",
  "loong64",
  "mips",
  "mipsle",
  "mips64",
  "mips64le",
  "mips64p32",
  "mips64p32le",
  "ppc",
  "riscv",
  "riscv64",
  "s390",
  "s390x",
  "sparc",
  "sparc64",
  "wasm",
]);

// Container images exist for these host systems; any other host (FreeBSD,
// Android…) runs Linux images, so that is the default there.
const IMAGE_HOST_OS = new Set(["linux", "darwin", "windows"]);

/**
 * Parses a platform specifier such as `linux/arm64/v8`, `linux/amd64`,
 * `windows(10.0.17763)/amd64`, `linux(+gpu)/amd64`, `linux` or `arm64`.
 *
 * Architecture aliases are resolved (`x86_64` → `amd64`, `armhf` → `arm`,
 * `armel` → `arm/v6`…) but, as in containerd, the result is not fully
 * normalised: `linux/arm64/v8` keeps its variant and `linux/arm` has none.
 * A lone OS takes the host's architecture; a lone architecture takes the
 * host's OS (see {@linkcode hostPlatform}).
 *
 * @throws {InvalidPlatformError} when `s` is empty, malformed, has more than
 * three components, or is a lone word that is neither a known OS nor a known
 * architecture.
 *
 * @example
 * ```ts
 * import { parsePlatform } from "./platform.ts";
 * console.log(parsePlatform("Linux/x86_64")); // { os: "linux", architecture: "amd64" }
 * console.log(parsePlatform("linux/armel")); // { os: "linux", architecture: "arm", variant: "v6" }
 * ```
 */
export function parsePlatform(s: string): Platform {
  const fail = (why: string) =>
    new InvalidPlatformError(`invalid platform ${JSON.stringify(s)}: ${why}`);
  if (s === "") throw fail("empty specifier");
  if (s.includes("*")) throw fail("wildcards are not supported");
  const parts = s.split("/");
  if (parts.length > 3) throw fail("too many components, want <os>[/<arch>[/<variant>]]");
  const { os, osVersion, osFeatures } = parseOSComponent(parts[0], fail);
  parts.slice(1).forEach((part, i) =>
    checkComponent(part, i === 0 ? "architecture" : "variant", fail)
  );

  if (parts.length === 1) return parseLoneWord(parts[0], os, osVersion, osFeatures, fail);
  let [architecture, variant] = normalizeArch(parts[1], parts[2] ?? "");
  // Like containerd: a bare `arm` stays bare, while an explicit arm64
  // variant is kept even when it is the default `v8`.
  if (parts.length === 2 && architecture === "arm" && variant === "v7") variant = "";
  if (parts.length === 3 && architecture === "arm64" && variant === "") variant = "v8";
  return makePlatform(os, architecture, variant, osVersion, osFeatures);
}

/**
 * Returns the canonical form of a platform, the one matching compares:
 * lower-cased, aliases resolved (`macos` → `darwin`, `aarch64` → `arm64`…),
 * default variants made uniform (`arm` → `arm/v7`, `arm64/v8` → `arm64`,
 * `amd64/v1` → `amd64`), `os.features` sorted without duplicates. An empty
 * OS becomes the host's. The input is never modified.
 *
 * @example
 * ```ts
 * import { normalizePlatform } from "./platform.ts";
 * console.log(normalizePlatform({ os: "Linux", architecture: "aarch64", variant: "v8" }));
 * // { os: "linux", architecture: "arm64" }
 * console.log(normalizePlatform({ os: "linux", architecture: "arm" }));
 * // { os: "linux", architecture: "arm", variant: "v7" }
 * ```
 */
export function normalizePlatform(p: Platform): Platform {
  const [architecture, variant] = normalizeArch(p.architecture ?? "", p.variant ?? "");
  const rawFeatures = Array.isArray(p["os.features"]) ? p["os.features"] : [];
  const features = [...new Set(rawFeatures)].sort();
  return makePlatform(normalizeOS(p.os ?? ""), architecture, variant, p["os.version"], features);
}

/**
 * Formats a platform as a specifier that {@linkcode parsePlatform} reads
 * back: `os[/arch[/variant]]`, with `(os.version+feature…)` after the OS when
 * either is set (features sorted; `%`, `+`, `(`, `)` and `/` escaped). An
 * empty OS formats as `unknown`. The platform is not normalised first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPlatform } from "./platform.ts";
 * assert.deepEqual(formatPlatform({ os: "linux", architecture: "arm", variant: "v7" }), "linux/arm/v7");
 * console.log(formatPlatform({ os: "windows", architecture: "amd64", "os.version": "10.0.17763" }));
 * // "windows(10.0.17763)/amd64"
 * ```
 */
export function formatPlatform(p: Platform): string {
  if (!p.os) return "unknown";
  const version = encodeOSOption(p["os.version"] ?? "");
  const features = [...new Set(p["os.features"] ?? [])].filter((f) => f !== "").sort();
  let os = p.os;
  if (version !== "" || features.length > 0) {
    os += `(${version}${features.map((f) => "+" + encodeOSOption(f)).join("")})`;
  }
  return [os, p.architecture, p.variant].filter((part) => part).join("/");
}

/**
 * The platform dtool runs on, normalised: OS `linux`, `darwin` or `windows`
 * (any other host counts as `linux`, whose images it runs), architecture in
 * Go's naming (`x86_64` → `amd64`, `aarch64` → `arm64`).
 *
 * @example
 * ```ts
 * import { hostPlatform } from "./platform.ts";
 * console.log(hostPlatform()); // e.g. { os: "linux", architecture: "amd64" }
 * ```
 */
export function hostPlatform(): Platform {
  const os = IMAGE_HOST_OS.has(Deno.build.os) ? Deno.build.os : "linux";
  const [architecture, variant] = normalizeArch(Deno.build.arch, "");
  return makePlatform(os, architecture, variant);
}

/**
 * Builds the matcher for a wanted platform.
 *
 * By default (containerd's `Only`) it also accepts what the wanted platform
 * can run, best first: `amd64/vN` → … → `amd64` → `386`; `arm64` → `arm/v8`
 * → `arm/v7` → `arm/v6` → `arm/v5` (and `arm64/v9.x` → … → `arm64/v8.(x+5)`
 * → … → `arm64` first); `arm/vN` → lower arm versions down to `v5`. With
 * `strict: true` (containerd's `OnlyStrict`) only the wanted platform itself
 * matches, up to normalisation (`arm64` ≡ `arm64/v8`, `arm` ≡ `arm/v7`).
 *
 * Either way a candidate must have the same OS, list only `os.features`
 * that the wanted platform lists (`win32k` is ignored for Windows), and, for
 * Windows with a wanted `os.version`, have a compatible build: the same
 * major.minor, and the same build before Windows Server 2022, or a build from
 * the previous LTSC (20348) up to the wanted one since. `less` ranks by the
 * fallback order; ties prefer the higher Windows `os.version`, then more
 * `os.features` shared with the wanted platform.
 *
 * @example
 * ```ts
 * import { formatPlatform, type Platform, parsePlatform, platformMatcher } from "./platform.ts";
 * const m = platformMatcher(parsePlatform("linux/arm64"));
 * const found = ["linux/arm/v6", "linux/amd64", "linux/arm/v7"].map(parsePlatform);
 * const order = (a: Platform, b: Platform) => m.less(a, b) ? -1 : m.less(b, a) ? 1 : 0;
 * const best = found.filter((p) => m.match(p)).sort(order);
 * console.log(best.map(formatPlatform)); // ["linux/arm/v7", "linux/arm/v6"]
 * ```
 */
export function platformMatcher(
  wanted: Platform,
  options: { strict?: boolean } = {},
): PlatformMatcher {
  const want = normalizePlatform(wanted);
  const entries = options.strict ? [want] : preferenceOrder(want);
  const tests = entries.map(exactMatcher);
  const rank = (p: Platform) => tests.findIndex((test) => test(p));
  return {
    match: (p) => rank(p) >= 0,
    less: (a, b) => {
      const ra = rank(a);
      const rb = rank(b);
      if (ra < 0 || rb < 0) return ra >= 0 && rb < 0;
      if (ra !== rb) return ra < rb;
      return tieBreak(want, a, b) < 0;
    },
  };
}

// --- parsing helpers -------------------------------------------------------

type Fail = (why: string) => InvalidPlatformError;

function parseOSComponent(part: string, fail: Fail) {
  const m = OS_RE.exec(part);
  if (!m) {
    const what = part === "" ? "empty OS" : `OS component ${JSON.stringify(part)} is malformed`;
    throw fail(`${what}, want <os>[(<os.version>[+<os.feature>]*)]`);
  }
  const osVersion = decodeOSOption(m[2] ?? "", fail);
  const osFeatures = m[3] ? m[3].slice(1).split("+").map((f) => decodeOSOption(f, fail)) : [];
  return { os: normalizeOS(m[1]), osVersion, osFeatures };
}

function checkComponent(part: string, what: string, fail: Fail): void {
  if (part === "") throw fail(`empty ${what}`);
  if (!COMPONENT_RE.test(part)) {
    throw fail(`${what} ${JSON.stringify(part)} must match ${COMPONENT_RE.source}`);
  }
}

// A lone word is an OS if Go knows it as one, else an architecture; the
// missing half comes from the host.
function parseLoneWord(
  word: string,
  os: string,
  osVersion: string,
  osFeatures: string[],
  fail: Fail,
): Platform {
  const host = hostPlatform();
  if (KNOWN_OS.has(os)) {
    return makePlatform(os, host.architecture, host.variant ?? "", osVersion, osFeatures);
  }
  const [architecture, variant] = normalizeArch(word, "");
  if (!KNOWN_ARCH.has(architecture)) throw fail("unknown operating system or architecture");
  return makePlatform(host.os, architecture, variant === "v7" ? "" : variant);
}

function decodeOSOption(raw: string, fail: Fail): string {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw fail(`bad %-escape in ${JSON.stringify(raw)}`);
  }
}

const OPTION_ESCAPES: Record<string, string> = {
  "%": "%25",
  "+": "%2B",
  "(": "%28",
  ")": "%29",
  "/": "%2F",
};

function encodeOSOption(value: string): string {
  return value.replace(/[%+()/]/g, (c) => OPTION_ESCAPES[c]);
}

// --- normalisation ---------------------------------------------------------

function normalizeOS(os: string): string {
  if (os === "") return hostPlatform().os;
  const lower = os.toLowerCase();
  return lower === "macos" ? "darwin" : lower;
}

// Returns [architecture, variant] in canonical form; "" means no variant.
function normalizeArch(rawArch: string, rawVariant: string): [string, string] {
  const arch = rawArch.toLowerCase();
  const variant = rawVariant.toLowerCase();
  switch (arch) {
    case "i386":
      return ["386", ""];
    case "x86_64":
    case "x86-64":
    case "amd64":
      return ["amd64", variant === "v1" ? "" : variant];
    case "aarch64":
    case "arm64":
      if (["8", "v8", "v8.0"].includes(variant)) return ["arm64", ""];
      if (["9", "9.0", "v9.0"].includes(variant)) return ["arm64", "v9"];
      return ["arm64", variant];
    case "armhf":
      return ["arm", "v7"];
    case "armel":
      return ["arm", "v6"];
    case "arm":
      if (variant === "" || variant === "7") return ["arm", "v7"];
      return ["arm", ["5", "6", "8"].includes(variant) ? "v" + variant : variant];
    default:
      return [arch, variant];
  }
}

// Builds a Platform without empty optional fields, so that equal platforms
// are deeply equal.
function makePlatform(
  os: string,
  architecture: string,
  variant = "",
  osVersion = "",
  osFeatures: string[] = [],
): Platform {
  const p: Platform = { os, architecture };
  if (variant !== "") p.variant = variant;
  if (osVersion !== "") p["os.version"] = osVersion;
  if (osFeatures.length > 0) p["os.features"] = [...osFeatures];
  return p;
}

// --- matching --------------------------------------------------------------

// containerd's platformVector: the (normalised) wanted platform, then what it
// can also run, best first.
function preferenceOrder(want: Platform): Platform[] {
  const like = (architecture: string, variant = "") =>
    makePlatform(want.os, architecture, variant, want["os.version"], want["os.features"]);
  const order = [want];
  const n = versionNumber(want.variant ?? "");
  switch (want.architecture) {
    case "amd64":
      for (let v = n - 1; n > 1 && v >= 1; v--) order.push(like("amd64", `v${v}`));
      order.push(like("386"));
      break;
    case "arm":
      for (let v = n - 1; n > 5 && v >= 5; v--) order.push(like("arm", `v${v}`));
      break;
    case "arm64":
      order.push(...arm64Fallbacks(want.variant || "v8").map((v) => like("arm64", v)));
      order.push(...preferenceOrder(like("arm", armEquivalent(want.variant || "v8"))));
      break;
  }
  return order;
}

// Older arm64 variants an arm64 `variant` runs. Armv9.x has the baseline of
// Armv8.(x+5), so v9.x falls back through v9.(x-1)…v9 and then v8.(x+5)…v8.
function arm64Fallbacks(variant: string): string[] {
  const [majorPart, minorPart] = variant.split(".", 2);
  let major = versionNumber(majorPart);
  if (major < 8) return [];
  // containerd only reads a one-digit minor (`v8.x`); longer ones count as 0.
  let minor = variant.length === 4 && minorPart !== undefined ? versionNumber("v" + minorPart) : 0;
  if (minor < 0) minor = 0;
  const out: string[] = [];
  const name = (maj: number, min: number) => (min === 0 ? `v${maj}` : `v${maj}.${min}`);
  if (major === 9) {
    for (let m = minor - 1; m >= 0; m--) out.push(name(9, m));
    minor += 5;
    major = 8;
    out.push(`v8.${minor}`);
  }
  for (let m = minor - 1; m >= 0; m--) out.push(name(major, m));
  return out;
}

// The arm variant a 64-bit arm variant can also run in 32-bit mode.
function armEquivalent(arm64Variant: string): string {
  return arm64Variant.startsWith("v8.") || arm64Variant.startsWith("v9.") ? "v8" : arm64Variant;
}

// `vN` or `N` → N; anything else → -1.
function versionNumber(variant: string): number {
  const m = /^v?(\d+)$/.exec(variant);
  return m ? Number(m[1]) : -1;
}

// containerd's NewMatcher: equality after normalisation, plus the Windows
// os.version rule and the os.features subset rule.
function exactMatcher(entry: Platform): (p: Platform) => boolean {
  const want = normalizePlatform(entry);
  const windows = want.os === "windows";
  const wantBuild = windows ? windowsVersion(want["os.version"] ?? "") : undefined;
  const have = new Set(want["os.features"] ?? []);
  return (candidate) => {
    const c = normalizePlatform(candidate);
    if (c.os !== want.os || c.architecture !== want.architecture) return false;
    if ((c.variant ?? "") !== (want.variant ?? "")) return false;
    if (windows && !windowsVersionMatch(wantBuild, candidate["os.version"] ?? "")) return false;
    // Nano Server lacks win32k, so older containerd ignored it; still does.
    const needs = (c["os.features"] ?? []).filter((f) => !(windows && f === "win32k"));
    return needs.every((f) => have.has(f));
  };
}

// Orders two candidates that match the same preference entry: negative when
// `a` is better.
function tieBreak(want: Platform, a: Platform, b: Platform): number {
  if (want.os === "windows") {
    const byVersion = compareDotted(b["os.version"] ?? "", a["os.version"] ?? "");
    if (byVersion !== 0) return byVersion;
  }
  const have = new Set(want["os.features"] ?? []);
  const shared = (p: Platform) =>
    new Set(normalizePlatform(p)["os.features"]?.filter((f) => have.has(f))).size;
  return shared(b) - shared(a);
}

function compareDotted(a: string, b: string): number {
  const na = a === "" ? [] : a.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const nb = b === "" ? [] : b.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (na[i] ?? -1) - (nb[i] ?? -1);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

// --- Windows os.version ----------------------------------------------------

interface WindowsVersion {
  major: number;
  minor: number;
  build: number;
}

// Windows Server 2022 and 2025, the releases with a stable container ABI.
const LTSC_BUILDS = [20348, 26100];

// Parses `major.minor.build[.revision]`; undefined when it cannot (containerd
// then treats the version as absent).
function windowsVersion(s: string): WindowsVersion | undefined {
  const parts = s.split(".");
  if (parts.length < 3 || !parts.slice(0, 3).every((x) => /^\d+$/.test(x))) return undefined;
  const [major, minor, build] = parts.slice(0, 3).map(Number);
  if (major > 0xff || minor > 0xff || build > 0xffff) return undefined;
  if (major === 0 && minor === 0 && build === 0) return undefined;
  return { major, minor, build };
}

function windowsVersionMatch(host: WindowsVersion | undefined, candidate: string): boolean {
  if (host === undefined || candidate === "") return true;
  const ctr = windowsVersion(candidate) ?? { major: 0, minor: 0, build: 0 };
  if (host.major !== ctr.major || host.minor !== ctr.minor) return false;
  if (host.build < LTSC_BUILDS[0]) return host.build === ctr.build;
  // A host from LTSC N on runs images from LTSC N-1 up to its own build.
  const i = LTSC_BUILDS.findLastIndex((b) => host.build >= b);
  const floor = LTSC_BUILDS[Math.max(i - 1, 0)];
  return floor <= ctr.build && ctr.build <= host.build;
}

/**
 * The index entry that best serves a platform, by containerd's rules:
 * with `strict` (a platform the user named) only that platform, its
 * normalised equivalents included; without it (the host default) also what
 * the host can run (arm64 → arm/v8 → arm/v7…, amd64 → 386).
 *
 * @example
 * ```ts
 * import { choosePlatform } from "./platform.ts";
 * const d = choosePlatform({
 *   schemaVersion: 2,
 *   manifests: [{
 *     mediaType: "application/vnd.oci.image.manifest.v1+json",
 *     digest: "sha256:" + "a".repeat(64),
 *     size: 1,
 *     platform: { os: "linux", architecture: "arm", variant: "v7" },
 *   }],
 * }, { os: "linux", architecture: "arm", variant: "v8" });
 * console.log(d.platform?.variant); // "v7"
 * ```
 */
export function choosePlatform(
  index: Index,
  wanted: Platform,
  options: { strict?: boolean } = {},
): Descriptor {
  const matcher = platformMatcher(wanted, options);
  const candidates = index.manifests.filter((d) => d.platform && matcher.match(d.platform));
  candidates.sort((a, b) =>
    matcher.less(a.platform!, b.platform!) ? -1 : matcher.less(b.platform!, a.platform!) ? 1 : 0
  );
  if (candidates.length === 0) {
    const available = index.manifests.filter((d) => d.platform).map((d) =>
      formatPlatform(d.platform!)
    );
    throw new NotFoundError(
      `no image for platform ${formatPlatform(wanted)} (available: ${
        available.join(", ") || "none"
      })`,
    );
  }
  return candidates[0];
}
