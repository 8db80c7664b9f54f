/** Header handling shared by the test proxies. */

/** Hop-by-hop headers that a proxy must not forward. */
const HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "host",
];

/** A copy of `src` without hop-by-hop headers. */
export function copyHeaders(src: Headers): Headers {
  const h = new Headers(src);
  for (const k of HOP) h.delete(k);
  return h;
}
