/**
 * `dtool referrers REF`: the manifests that refer to an image (signatures,
 * SBOMs, attestations), as JSON or as a tree.
 *
 * @module
 */
import { MediaType } from "../media_types.ts";
import { parseImageReference } from "../reference.ts";
import { listReferrers, type ReferrerNode } from "../referrers.ts";
import { debugLine, printJson } from "./common.ts";
import { openWithFlags } from "./registry_flags.ts";

/** Flags of `dtool referrers`. */
export interface ReferrersFlags {
  artifactType?: string[];
  recursive?: boolean;
  format: string;
  creds?: string;
  authfile?: string;
  certDir?: string;
  tlsVerify: boolean;
  debug?: boolean;
}

/** Runs the referrers command. */
export async function runReferrers(arg: string, flags: ReferrersFlags): Promise<void> {
  const end = await openWithFlags(parseImageReference(arg), flags);
  try {
    const { subject, referrers } = await listReferrers(end.resolver, end.ref, {
      artifactTypes: flags.artifactType,
      recursive: flags.recursive,
    });
    if (flags.format === "tree") {
      console.log(treeLines(`${end.name || arg}@${subject.digest}`, referrers).join("\n"));
    } else {
      printJson({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: referrers });
    }
  } finally {
    if (flags.debug) debugLine(`${end.requestCount()} HTTP requests`);
  }
}

/**
 * An indented tree, as `oras discover` draws one: each referrer as its
 * artifact type and digest, what refers to it below.
 *
 * @example
 * ```ts
 * import { treeLines } from "./referrers.ts";
 * const d = "sha256:" + "a".repeat(64);
 * console.log(treeLines("app", [{ mediaType: "m", digest: d, size: 1, artifactType: "t" }])[1]);
 * // "└── t sha256:aaaa…"
 * ```
 */
export function treeLines(root: string, nodes: ReferrerNode[], indent = ""): string[] {
  const lines = indent === "" ? [root] : [];
  nodes.forEach((n, i) => {
    const last = i === nodes.length - 1;
    lines.push(`${indent}${last ? "└── " : "├── "}${n.artifactType ?? n.mediaType} ${n.digest}`);
    lines.push(...treeLines(root, n.referrers ?? [], indent + (last ? "    " : "│   ")));
  });
  return lines;
}
