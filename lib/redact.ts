/**
 * Masking secrets in text meant for people: URLs in traces and error
 * messages can carry signed query strings (S3, GCS, CloudFront), tokens and
 * `user:password@` parts.
 *
 * @module
 */

/** Query parameters whose values are safe and useful to show. */
const PUBLIC_PARAMS = new Set(["digest", "n", "last", "mount", "from", "service", "scope"]);

/**
 * Masks the user info and every query value of a URL except a few known
 * harmless ones (`digest`, `n`, `last`, `mount`, `from`, `service`, `scope`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactUrl } from "./redact.ts";
 * assert.deepEqual(redactUrl("https://u:p@a/t?token=abc&n=1"), "https://***@a/t?token=***&n=1");
 * ```
 */
export function redactUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, "$1***@")
    .replace(
      /([?&])([^=&#\s]+)=([^&#\s]*)/g,
      (all, sep: string, key: string) =>
        PUBLIC_PARAMS.has(key.toLowerCase()) ? all : `${sep}${key}=***`,
    );
}

/**
 * Masks every URL found in a piece of text (an error message from the HTTP
 * stack quotes the URL it failed on).
 *
 * @example
 * ```ts
 * import { redactText } from "./redact.ts";
 * console.log(redactText("error sending request for url (https://s3/b?X-Amz-Signature=f00)"));
 * // "error sending request for url (https://s3/b?X-Amz-Signature=***)"
 * ```
 */
export function redactText(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s()"'<>]+/gi, (u) => redactUrl(u));
}
