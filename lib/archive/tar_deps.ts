/**
 * The tar format (ustar header blocks, pax extended headers) from node-tar,
 * with its version range in full so that `deno run https://…/cli.ts` works
 * without this repository's deno.json. Only the codecs are used; positions
 * in the archive file are dtool's own.
 *
 * @module
 */
export { Header, type HeaderData, Pax } from "npm:tar@^7.5.0";
