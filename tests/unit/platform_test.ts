import assert from "node:assert/strict";
import { ExitCode, InvalidPlatformError } from "../../lib/errors.ts";
import {
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  type Platform,
  type PlatformMatcher,
  platformMatcher,
} from "../../lib/platform.ts";

const host = hostPlatform();
const hostArch = [host.architecture, host.variant].filter((part) => part).join("/");

function sortBy(m: PlatformMatcher, specs: string[]): string[] {
  return specs
    .map(parsePlatform)
    .sort((a, b) => (m.less(a, b) ? -1 : m.less(b, a) ? 1 : 0))
    .map(formatPlatform);
}

function matchTable(
  strict: boolean,
  table: Record<string, { yes: string[]; no: string[] }>,
): void {
  for (const [wanted, { yes, no }] of Object.entries(table)) {
    const m = platformMatcher(parsePlatform(wanted), { strict });
    for (const s of yes) assert.ok(m.match(parsePlatform(s)), `${wanted} should match ${s}`);
    for (const s of no) assert.ok(!m.match(parsePlatform(s)), `${wanted} should not match ${s}`);
  }
}

Deno.test("parsePlatform reads os/arch[/variant] and resolves aliases without normalising", () => {
  const table: [string, Platform, string][] = [
    ["linux/arm64", { os: "linux", architecture: "arm64" }, "linux/arm64"],
    ["linux/arm64/v8", { os: "linux", architecture: "arm64", variant: "v8" }, "linux/arm64/v8"],
    ["linux/aarch64/8", { os: "linux", architecture: "arm64", variant: "v8" }, "linux/arm64/v8"],
    ["linux/arm64/v9.0", { os: "linux", architecture: "arm64", variant: "v9" }, "linux/arm64/v9"],
    ["linux/arm", { os: "linux", architecture: "arm" }, "linux/arm"],
    ["linux/armhf", { os: "linux", architecture: "arm" }, "linux/arm"],
    ["linux/arm/v6", { os: "linux", architecture: "arm", variant: "v6" }, "linux/arm/v6"],
    ["linux/arm/7", { os: "linux", architecture: "arm", variant: "v7" }, "linux/arm/v7"],
    ["linux/arm/v7", { os: "linux", architecture: "arm", variant: "v7" }, "linux/arm/v7"],
    ["linux/armel", { os: "linux", architecture: "arm", variant: "v6" }, "linux/arm/v6"],
    ["Linux/x86_64", { os: "linux", architecture: "amd64" }, "linux/amd64"],
    ["linux/x86-64", { os: "linux", architecture: "amd64" }, "linux/amd64"],
    ["linux/amd64/v1", { os: "linux", architecture: "amd64" }, "linux/amd64"],
    ["linux/amd64/V3", { os: "linux", architecture: "amd64", variant: "v3" }, "linux/amd64/v3"],
    ["linux/i386", { os: "linux", architecture: "386" }, "linux/386"],
    ["linux/s390x", { os: "linux", architecture: "s390x" }, "linux/s390x"],
    ["macOS/arm64", { os: "darwin", architecture: "arm64" }, "darwin/arm64"],
    ["freebsd/riscv64", { os: "freebsd", architecture: "riscv64" }, "freebsd/riscv64"],
    [
      "windows(10.0.17763)/amd64",
      { os: "windows", architecture: "amd64", "os.version": "10.0.17763" },
      "windows(10.0.17763)/amd64",
    ],
  ];
  for (const [input, expected, formatted] of table) {
    const p = parsePlatform(input);
    assert.deepEqual(p, expected, input);
    assert.equal(formatPlatform(p), formatted, input);
    assert.equal(formatPlatform(parsePlatform(formatted)), formatted, `${input} round trip`);
  }
});

Deno.test("parsePlatform of a lone OS takes the host architecture", () => {
  const table: [string, Platform][] = [
    ["linux", { ...host, os: "linux" }],
    ["macOS", { ...host, os: "darwin" }],
    ["windows", { ...host, os: "windows" }],
    ["windows()", { ...host, os: "windows" }],
    ["windows(10.0.17763)", { ...host, os: "windows", "os.version": "10.0.17763" }],
    [
      "windows(10.0.17763+win32k)",
      { ...host, os: "windows", "os.version": "10.0.17763", "os.features": ["win32k"] },
    ],
    ["linux(+gpu)", { ...host, os: "linux", "os.features": ["gpu"] }],
    ["linux(+unsorted+erofs)", { ...host, os: "linux", "os.features": ["unsorted", "erofs"] }],
  ];
  for (const [input, expected] of table) assert.deepEqual(parsePlatform(input), expected, input);
  assert.equal(formatPlatform(parsePlatform("linux")), `linux/${hostArch}`);
});

Deno.test("parsePlatform of a lone architecture takes the host OS", () => {
  const table: [string, Platform][] = [
    ["arm", { os: host.os, architecture: "arm" }],
    ["armhf", { os: host.os, architecture: "arm" }],
    ["armel", { os: host.os, architecture: "arm", variant: "v6" }],
    ["Aarch64", { os: host.os, architecture: "arm64" }],
    ["x86_64", { os: host.os, architecture: "amd64" }],
    ["x86-64", { os: host.os, architecture: "amd64" }],
    ["i386", { os: host.os, architecture: "386" }],
    ["s390x", { os: host.os, architecture: "s390x" }],
    ["ppc64le", { os: host.os, architecture: "ppc64le" }],
  ];
  for (const [input, expected] of table) assert.deepEqual(parsePlatform(input), expected, input);
});

Deno.test("parsePlatform decodes %-escapes in os.version and os.features", () => {
  assert.deepEqual(parsePlatform("windows(10.0.17763%2Bbuild.42+win32k)/amd64"), {
    os: "windows",
    architecture: "amd64",
    "os.version": "10.0.17763+build.42",
    "os.features": ["win32k"],
  });
  assert.equal(parsePlatform("windows(50%25done)/amd64")["os.version"], "50%done");
});

Deno.test("parsePlatform rejects malformed specifiers with InvalidPlatformError naming them", () => {
  const bad = [
    "",
    "linux/",
    "/linux/arm",
    "linux/arm/",
    "linux//v7",
    "linux /arm",
    "linux/&arm",
    "linux/arm/foo/bar",
    "foo/bar/baz/qux",
    "linux/arm64/v8/",
    "lin$ux",
    "linux(10.0/amd64",
    "linux(+)/amd64",
    "windows(%zz)/amd64",
    "foo",
    "amd64(+gpu)",
    "*",
    "linux/*",
  ];
  for (const input of bad) {
    assert.throws(
      () => parsePlatform(input),
      (e: unknown) => {
        assert.ok(e instanceof InvalidPlatformError, `${input}: ${e}`);
        assert.equal(e.exitCode, ExitCode.Usage);
        assert.ok(
          e.message.startsWith(`invalid platform ${JSON.stringify(input)}: `),
          `message names the input: ${e.message}`,
        );
        return true;
      },
    );
  }
});

Deno.test("normalizePlatform resolves every architecture alias and default variant", () => {
  const table: [Platform, Platform][] = [
    [{ os: "linux", architecture: "x86_64" }, { os: "linux", architecture: "amd64" }],
    [{ os: "linux", architecture: "x86-64" }, { os: "linux", architecture: "amd64" }],
    [{ os: "linux", architecture: "AMD64", variant: "V1" }, { os: "linux", architecture: "amd64" }],
    [
      { os: "linux", architecture: "amd64", variant: "v2" },
      { os: "linux", architecture: "amd64", variant: "v2" },
    ],
    [{ os: "linux", architecture: "aarch64" }, { os: "linux", architecture: "arm64" }],
    [{ os: "linux", architecture: "arm64", variant: "v8" }, { os: "linux", architecture: "arm64" }],
    [{ os: "linux", architecture: "arm64", variant: "8" }, { os: "linux", architecture: "arm64" }],
    [
      { os: "linux", architecture: "arm64", variant: "v8.0" },
      { os: "linux", architecture: "arm64" },
    ],
    [
      { os: "linux", architecture: "arm64", variant: "v9.0" },
      { os: "linux", architecture: "arm64", variant: "v9" },
    ],
    [
      { os: "linux", architecture: "arm64", variant: "v8.2" },
      { os: "linux", architecture: "arm64", variant: "v8.2" },
    ],
    [{ os: "linux", architecture: "i386" }, { os: "linux", architecture: "386" }],
    [
      { os: "linux", architecture: "armhf" },
      { os: "linux", architecture: "arm", variant: "v7" },
    ],
    [
      { os: "linux", architecture: "armel" },
      { os: "linux", architecture: "arm", variant: "v6" },
    ],
    [{ os: "linux", architecture: "arm" }, { os: "linux", architecture: "arm", variant: "v7" }],
    [
      { os: "linux", architecture: "arm", variant: "5" },
      { os: "linux", architecture: "arm", variant: "v5" },
    ],
    [
      { os: "linux", architecture: "arm", variant: "8" },
      { os: "linux", architecture: "arm", variant: "v8" },
    ],
    [{ os: "Linux", architecture: "S390X" }, { os: "linux", architecture: "s390x" }],
  ];
  for (const [input, expected] of table) {
    assert.deepEqual(normalizePlatform(input), expected, JSON.stringify(input));
  }
});

Deno.test("normalizePlatform maps macos to darwin and an empty OS to the host's", () => {
  assert.equal(normalizePlatform({ os: "macOS", architecture: "arm64" }).os, "darwin");
  assert.equal(normalizePlatform({ os: "", architecture: "arm64" }).os, host.os);
});

Deno.test("normalizePlatform sorts and de-duplicates os.features and keeps os.version", () => {
  assert.deepEqual(
    normalizePlatform({
      os: "windows",
      architecture: "amd64",
      "os.version": "10.0.20348.1",
      "os.features": ["win32k", "b", "a", "b"],
    }),
    {
      os: "windows",
      architecture: "amd64",
      "os.version": "10.0.20348.1",
      "os.features": ["a", "b", "win32k"],
    },
  );
});

Deno.test("normalizePlatform never mutates its input", () => {
  const input: Platform = {
    os: "Linux",
    architecture: "aarch64",
    variant: "v8",
    "os.features": ["z", "a"],
  };
  const copy = structuredClone(input);
  Object.freeze(input);
  Object.freeze(input["os.features"]);
  const out = normalizePlatform(input);
  assert.deepEqual(input, copy);
  assert.notEqual(out["os.features"], input["os.features"]);
});

Deno.test("formatPlatform joins os/arch/variant and puts os options in parentheses", () => {
  const table: [Platform, string][] = [
    [{ os: "linux", architecture: "arm", variant: "v7" }, "linux/arm/v7"],
    [{ os: "linux", architecture: "amd64" }, "linux/amd64"],
    [{ os: "", architecture: "amd64" }, "unknown"],
    [{ os: "linux", architecture: "" }, "linux"],
    [
      { os: "windows", architecture: "amd64", "os.version": "10.0.17763+build.42" },
      "windows(10.0.17763%2Bbuild.42)/amd64",
    ],
    [
      {
        os: "windows",
        architecture: "amd64",
        "os.version": "10.0.17763+build.42",
        "os.features": ["win32k"],
      },
      "windows(10.0.17763%2Bbuild.42+win32k)/amd64",
    ],
    [{ os: "windows", architecture: "amd64", "os.version": "50%done" }, "windows(50%25done)/amd64"],
    [
      { os: "windows", architecture: "amd64", "os.version": "1.0(beta)" },
      "windows(1.0%28beta%29)/amd64",
    ],
    [{ os: "windows", architecture: "amd64", "os.version": "a/b" }, "windows(a%2Fb)/amd64"],
    [{ os: "linux", architecture: "amd64", "os.features": ["feat+v2"] }, "linux(+feat%2Bv2)/amd64"],
    [{ os: "linux", architecture: "amd64", "os.features": ["100%gpu"] }, "linux(+100%25gpu)/amd64"],
    [
      { os: "linux", architecture: "amd64", "os.features": ["simd", "", "gpu", "simd"] },
      "linux(+gpu+simd)/amd64",
    ],
  ];
  for (const [p, expected] of table) {
    assert.equal(formatPlatform(p), expected);
    if (p.os === "" || p.architecture === "") continue;
    const back = parsePlatform(expected);
    assert.equal(back["os.version"], p["os.version"], `${expected} round trip`);
  }
});

Deno.test("hostPlatform reports Deno's OS and architecture in Go's naming", () => {
  const os = ["linux", "darwin", "windows"].includes(Deno.build.os) ? Deno.build.os : "linux";
  const arch = ({ x86_64: "amd64", aarch64: "arm64" } as Record<string, string>)[Deno.build.arch] ??
    Deno.build.arch;
  assert.deepEqual(host, { os, architecture: arch });
  assert.deepEqual(normalizePlatform(host), host);
});

Deno.test("platformMatcher matches the wanted platform plus containerd's fallbacks (Only)", () => {
  matchTable(false, {
    "linux/amd64": {
      yes: ["linux/amd64", "linux/386", "linux/x86_64", "linux/amd64/v1"],
      no: ["linux/amd64/v2", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm"],
    },
    "linux/amd64/v2": {
      yes: ["linux/amd64", "linux/amd64/v1", "linux/amd64/v2", "linux/386"],
      no: ["linux/amd64/v3", "linux/amd64/v4", "linux/arm/v7", "linux/arm64", "windows/amd64"],
    },
    "linux/386": {
      yes: ["linux/386", "linux/i386"],
      no: ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm"],
    },
    "windows/amd64": {
      yes: ["windows/amd64", "windows(10.0.17763)/amd64"],
      no: ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/arm"],
    },
    "linux/arm/v8": {
      yes: ["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8"],
      no: ["linux/amd64", "linux/arm/v4", "linux/arm64", "windows/amd64", "windows/arm"],
    },
    "linux/arm/v7": {
      yes: ["linux/arm", "linux/armhf", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7"],
      no: ["linux/amd64", "linux/arm/v4", "linux/arm/v8", "linux/arm64", "windows/arm"],
    },
    "linux/arm/v6": {
      yes: ["linux/arm/v5", "linux/arm/v6", "linux/armel"],
      no: ["linux/amd64", "linux/arm", "linux/arm/v4", "linux/arm/v7", "linux/arm/v8"],
    },
    "linux/arm/v5": {
      yes: ["linux/arm/v5"],
      no: ["linux/amd64", "linux/arm", "linux/arm/v4", "linux/arm/v6", "linux/arm64"],
    },
    "linux/arm/v4": {
      yes: ["linux/arm/v4"],
      no: ["linux/amd64", "linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm64"],
    },
    "linux/arm64/v9": {
      yes: [
        "linux/arm",
        "linux/arm/v5",
        "linux/arm/v6",
        "linux/arm/v7",
        "linux/arm/v8",
        "linux/arm64",
        "linux/arm64/v8",
        "linux/arm64/v8.1",
        "linux/arm64/v8.2",
        "linux/arm64/v8.3",
        "linux/arm64/v8.4",
        "linux/arm64/v8.5",
        "linux/arm64/v9",
        "linux/arm64/v9.0",
      ],
      no: ["linux/amd64", "linux/arm/v4", "windows/amd64", "windows/arm", "linux/arm64/v8.6"],
    },
    "linux/arm64/v8.1": {
      yes: [
        "linux/arm",
        "linux/arm/v5",
        "linux/arm/v6",
        "linux/arm/v7",
        "linux/arm/v8",
        "linux/arm64",
        "linux/arm64/v8",
        "linux/arm64/v8.1",
      ],
      no: ["linux/amd64", "linux/arm/v4", "linux/arm/v9", "linux/arm64/v9", "windows/arm"],
    },
    "linux/arm64": {
      yes: [
        "linux/arm",
        "linux/arm/v5",
        "linux/arm/v6",
        "linux/arm/v7",
        "linux/arm/v8",
        "linux/arm64",
        "linux/arm64/v8",
        "linux/aarch64",
      ],
      no: ["linux/amd64", "linux/arm/v4", "linux/arm/v9", "linux/arm64/v9", "linux/arm64/v8.1"],
    },
  });
});

Deno.test("platformMatcher strict matches only the normalised platform (OnlyStrict)", () => {
  matchTable(true, {
    "linux/amd64": {
      yes: ["linux/amd64", "linux/x86_64", "linux/amd64/v1"],
      no: ["linux/386", "linux/amd64/v2", "linux/arm/v7", "linux/arm64", "windows/amd64"],
    },
    "linux/386": {
      yes: ["linux/386"],
      no: ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm"],
    },
    "windows/amd64": {
      yes: ["windows/amd64", "windows(10.0.17763)/amd64"],
      no: ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/arm"],
    },
    "windows(10.0.17763)/amd64": {
      yes: ["windows/amd64", "windows(10.0.17763)/amd64"],
      no: ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/arm"],
    },
    "linux/arm/v8": {
      yes: ["linux/arm/v8"],
      no: ["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm64"],
    },
    "linux/arm/v7": {
      yes: ["linux/arm", "linux/arm/v7", "linux/armhf"],
      no: ["linux/arm/v5", "linux/arm/v6", "linux/arm/v8", "linux/arm64", "windows/arm"],
    },
    "linux/arm/v6": {
      yes: ["linux/arm/v6", "linux/armel"],
      no: ["linux/arm/v5", "linux/arm", "linux/arm/v7", "linux/arm/v8", "linux/arm64"],
    },
    "linux/arm64/v9": {
      yes: ["linux/arm64/v9", "linux/arm64/v9.0"],
      no: ["linux/arm", "linux/arm/v8", "linux/arm/v9", "linux/arm64/v8", "linux/arm64/v8.1"],
    },
    "linux/arm64/v8.1": {
      yes: ["linux/arm64/v8.1"],
      no: ["linux/arm", "linux/arm/v8", "linux/arm64/v8", "linux/arm64/v9", "windows/amd64"],
    },
    "linux/arm64": {
      yes: ["linux/arm64", "linux/arm64/v8", "linux/aarch64", "linux/arm64/v8.0"],
      no: ["linux/arm", "linux/arm/v8", "linux/arm64/v9", "linux/amd64", "windows/arm64"],
    },
  });
});

Deno.test("platformMatcher treats arm64 and arm64/v8 as equal in both directions", () => {
  for (const strict of [false, true]) {
    for (
      const [wanted, candidate] of [["linux/arm64", "linux/arm64/v8"], [
        "linux/arm64/v8",
        "linux/arm64",
      ]]
    ) {
      const m = platformMatcher(parsePlatform(wanted), { strict });
      assert.ok(m.match(parsePlatform(candidate)), `${wanted} vs ${candidate} strict=${strict}`);
      assert.ok(m.match({ os: "linux", architecture: "aarch64", variant: "V8" }));
    }
  }
});

Deno.test("less orders amd64/vN candidates down to v1 then 386, unmatched last", () => {
  const m = platformMatcher(parsePlatform("linux/amd64/v3"));
  assert.deepEqual(
    sortBy(m, [
      "linux/386",
      "linux/arm64",
      "linux/amd64",
      "linux/amd64/v4",
      "linux/amd64/v2",
      "windows/amd64",
      "linux/amd64/v3",
    ]),
    [
      "linux/amd64/v3",
      "linux/amd64/v2",
      "linux/amd64",
      "linux/386",
      "linux/arm64",
      "linux/amd64/v4",
      "windows/amd64",
    ],
  );
});

Deno.test("less orders arm64 candidates before arm v8, v7, v6, v5", () => {
  const m = platformMatcher(parsePlatform("linux/arm64"));
  assert.deepEqual(
    sortBy(m, [
      "linux/arm/v5",
      "linux/amd64",
      "linux/arm/v7",
      "linux/arm/v6",
      "linux/arm64/v8",
      "linux/arm/v8",
      "linux/arm/v4",
    ]),
    [
      "linux/arm64/v8",
      "linux/arm/v8",
      "linux/arm/v7",
      "linux/arm/v6",
      "linux/arm/v5",
      "linux/amd64",
      "linux/arm/v4",
    ],
  );
});

Deno.test("less orders arm64/v9.2 through v9 and v8.7 down to v8, then arm", () => {
  const m = platformMatcher(parsePlatform("linux/arm64/v9.2"));
  const expected = [
    "linux/arm64/v9.2",
    "linux/arm64/v9.1",
    "linux/arm64/v9",
    "linux/arm64/v8.7",
    "linux/arm64/v8.3",
    "linux/arm64",
    "linux/arm/v8",
    "linux/arm/v5",
  ];
  assert.deepEqual(sortBy(m, ["linux/arm64/v8.8", ...expected].reverse()), [
    ...expected,
    "linux/arm64/v8.8",
  ]);
});

Deno.test("less orders arm/vN candidates down to v5 and 386 gets no fallback", () => {
  const arm = platformMatcher(parsePlatform("linux/arm/v7"));
  assert.deepEqual(
    sortBy(arm, ["linux/arm/v5", "linux/arm/v8", "linux/arm/v6", "linux/arm"]),
    ["linux/arm", "linux/arm/v6", "linux/arm/v5", "linux/arm/v8"],
  );
  const i386 = platformMatcher(parsePlatform("linux/386"));
  assert.deepEqual(sortBy(i386, ["linux/amd64", "linux/386"]), ["linux/386", "linux/amd64"]);
});

Deno.test("strict less puts the exact platform first and keeps the rest in place", () => {
  const m = platformMatcher(parsePlatform("linux/amd64/v2"), { strict: true });
  assert.deepEqual(sortBy(m, ["linux/amd64", "linux/386", "linux/amd64/v2"]), [
    "linux/amd64/v2",
    "linux/amd64",
    "linux/386",
  ]);
  assert.ok(!m.match(parsePlatform("linux/amd64")));
});

Deno.test("less is false for equal and for two unmatched candidates", () => {
  const m = platformMatcher(parsePlatform("linux/amd64"));
  const a = parsePlatform("linux/amd64");
  assert.equal(m.less(a, a), false);
  assert.equal(m.less(a, parsePlatform("linux/x86_64")), false);
  assert.equal(m.less(parsePlatform("linux/arm64"), parsePlatform("linux/s390x")), false);
  assert.equal(m.less(parsePlatform("linux/386"), a), false);
  assert.equal(m.less(a, parsePlatform("linux/386")), true);
});

Deno.test("os.features of a candidate must all be listed by the wanted platform", () => {
  const gpu = platformMatcher(parsePlatform("linux(+gpu+simd)/amd64"));
  assert.ok(gpu.match(parsePlatform("linux/amd64")));
  assert.ok(gpu.match(parsePlatform("linux(+gpu)/amd64")));
  assert.ok(gpu.match(parsePlatform("linux(+simd+gpu)/amd64")));
  assert.ok(gpu.match({ os: "linux", architecture: "386", "os.features": ["gpu", "gpu"] }));
  assert.ok(!gpu.match(parsePlatform("linux(+gpu+tpu)/amd64")));
  const plain = platformMatcher(parsePlatform("linux/amd64"));
  assert.ok(!plain.match(parsePlatform("linux(+gpu)/amd64")));
  const strict = platformMatcher(parsePlatform("linux(+gpu)/amd64"), { strict: true });
  assert.ok(strict.match(parsePlatform("linux/amd64")));
  assert.ok(!strict.match(parsePlatform("linux(+erofs)/amd64")));
});

Deno.test("os.features win32k is ignored for Windows candidates only", () => {
  const win = platformMatcher(parsePlatform("windows/amd64"));
  assert.ok(win.match(parsePlatform("windows(10.0.20348+win32k)/amd64")));
  assert.ok(!win.match(parsePlatform("windows(+win32k+other)/amd64")));
  const linux = platformMatcher(parsePlatform("linux/amd64"));
  assert.ok(!linux.match(parsePlatform("linux(+win32k)/amd64")));
});

Deno.test("less prefers the candidate sharing more os.features among equals", () => {
  const m = platformMatcher(parsePlatform("linux(+gpu+simd)/amd64"));
  assert.deepEqual(
    sortBy(m, ["linux/386", "linux/amd64", "linux(+gpu)/amd64", "linux(+gpu+simd)/amd64"]),
    ["linux(+gpu+simd)/amd64", "linux(+gpu)/amd64", "linux/amd64", "linux/386"],
  );
});

Deno.test("windows os.version follows the host/container compatibility rules", () => {
  const cases: [string, string, boolean][] = [
    ["10.0.17763", "10.0.17763.1234", true], // ltsc2019 on ltsc2019
    ["10.0.17763", "10.0.20348", false], // newer container on an older host
    ["10.0.20348", "10.0.17763", false], // ltsc2019 on ltsc2022
    ["10.0.20348", "10.0.20348.3091", true],
    ["10.0.22621", "10.0.17763", false], // Windows 11 host
    ["10.0.22621", "10.0.20348", true],
    ["10.0.22621", "10.0.25398", false],
    ["10.0.26100", "10.0.20348", true], // ltsc2025 runs ltsc2022
    ["10.0.26100", "10.0.26100.2894", true],
    ["10.0.26100", "10.0.17763", false],
    ["10.0.26100", "6.3.26100", false], // different major.minor
    ["10.0.26100", "garbage", false],
    ["10.0.26100", "", true], // candidate without a version
    ["", "10.0.17763", true], // wanted without a version
    ["not.a.version", "10.0.17763", true],
  ];
  for (const [wanted, candidate, ok] of cases) {
    const want: Platform = { os: "windows", architecture: "amd64", "os.version": wanted };
    const cand: Platform = { os: "windows", architecture: "amd64", "os.version": candidate };
    assert.equal(platformMatcher(want).match(cand), ok, `${wanted} runs ${candidate}`);
    assert.equal(platformMatcher(want, { strict: true }).match(cand), ok);
  }
  const linux = platformMatcher({ os: "linux", architecture: "amd64", "os.version": "1.2.3" });
  assert.ok(linux.match({ os: "linux", architecture: "amd64", "os.version": "9.9.9" }));
});

Deno.test("less prefers the newest compatible windows os.version", () => {
  const m = platformMatcher({ os: "windows", architecture: "amd64", "os.version": "10.0.26100" });
  const linux: Platform = { os: "linux", architecture: "amd64" };
  const ws2022: Platform = {
    os: "windows",
    architecture: "amd64",
    "os.version": "10.0.20348.3091",
  };
  const ws2025: Platform = {
    os: "windows",
    architecture: "amd64",
    "os.version": "10.0.26100.2894",
  };
  const rev3000: Platform = { ...ws2025, "os.version": "10.0.26100.3000" };
  const sorted = [linux, ws2022, ws2025, rev3000].sort((a, b) =>
    m.less(a, b) ? -1 : m.less(b, a) ? 1 : 0
  );
  assert.deepEqual(sorted, [rev3000, ws2025, ws2022, linux]);
});
