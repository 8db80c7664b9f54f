/**
 * Third-party code of sync, from npm with version ranges in full so that
 * `deno run https://…/cli.ts` works without this repository's deno.json:
 * the YAML reader for skopeo's sync files, and npm's semver for
 * `images-by-semver`.
 *
 * @module
 */
export { parse as parseYaml } from "npm:yaml@^2.9.0";
export { default as semver } from "npm:semver@^7.8.0";
