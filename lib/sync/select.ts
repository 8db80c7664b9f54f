/**
 * Which tags of a repository a sync rule takes: every tag, the tags a
 * regular expression matches (unanchored, as skopeo's Go `MatchString`),
 * or the tags that are versions inside a semver range.
 *
 * @module
 */
import { semver } from "./deps.ts";

/** How the tags of one repository are chosen. */
export type TagRule =
  | { kind: "all" }
  | { kind: "regex"; pattern: RegExp }
  | { kind: "semver"; range: string };

/**
 * True when `tag` is a version (a leading `v` allowed) inside `range`; as
 * with npm and Go's Masterminds semver, a pre-release only matches a range
 * that names a pre-release of the same version.
 *
 * @example
 * ```ts
 * import { tagInRange } from "./select.ts";
 * console.log(tagInRange("v1.4.0", ">=1.2 <2"), tagInRange("latest", "*")); // true false
 * ```
 */
export function tagInRange(tag: string, range: string): boolean {
  const version = semver.parse(tag, { loose: true });
  return version !== null && semver.satisfies(version, range, { loose: true });
}

/**
 * True when `range` is a semver range npm's `semver` understands.
 *
 * @example
 * ```ts
 * import { isValidRange } from "./select.ts";
 * console.log(isValidRange("^1.2"), isValidRange(">=x.y.z ||| <")); // true false
 * ```
 */
export function isValidRange(range: string): boolean {
  return semver.validRange(range, { loose: true }) !== null;
}

/**
 * The tags a rule takes, in the order given.
 *
 * @example
 * ```ts
 * import { selectTags } from "./select.ts";
 * console.log(selectTags(["1.0", "1.1", "dev"], { kind: "regex", pattern: /^1\./ })); // ["1.0", "1.1"]
 * ```
 */
export function selectTags(tags: string[], rule: TagRule): string[] {
  switch (rule.kind) {
    case "all":
      return tags;
    case "regex":
      return tags.filter((t) => rule.pattern.test(t));
    case "semver":
      return tags.filter((t) => tagInRange(t, rule.range));
  }
}
