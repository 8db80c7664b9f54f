/**
 * WWW-Authenticate challenges (RFC 7235) as registries send them:
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"`.
 *
 * @module
 */

/** One challenge: its scheme (lower case) and parameters (keys lower case). */
export interface Challenge {
  /** `bearer` or `basic` (lower case). */
  scheme: string;
  /** Parameters such as realm, service, scope, error. */
  params: Record<string, string>;
}

/**
 * Parses every challenge in a WWW-Authenticate header value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseChallenges } from "./challenge.ts";
 * const [c] = parseChallenges('Bearer realm="https://a/token",service="reg"');
 * assert.deepEqual(c.scheme, "bearer");
 * assert.deepEqual(c.params.realm, "https://a/token");
 * ```
 */
export function parseChallenges(header: string | null | undefined): Challenge[] {
  const out: Challenge[] = [];
  if (!header) return out;
  let i = 0;
  const s = header;
  const skipSpace = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
  };
  const token = () => {
    const start = i;
    while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(s[i])) i++;
    return s.slice(start, i);
  };
  while (i < s.length) {
    skipSpace();
    while (s[i] === ",") {
      i++;
      skipSpace();
    }
    const scheme = token();
    if (!scheme) break;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    for (;;) {
      skipSpace();
      const save = i;
      const key = token();
      skipSpace();
      if (!key || s[i] !== "=") {
        i = save; // next challenge starts here
        break;
      }
      i++;
      skipSpace();
      let value = "";
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === "\\" && i + 1 < s.length) i++;
          value += s[i++];
        }
        i++;
      } else {
        value = token();
      }
      challenge.params[key.toLowerCase()] = value;
      skipSpace();
      if (s[i] === ",") {
        i++;
        continue;
      }
      break;
    }
    if (i === 0) break;
  }
  return out;
}
