/**
 * Third-party code of `dtool serve`, from npm with its version range in
 * full so that `deno run https://…/cli.ts` works without deno.json.
 *
 * @module
 */
export { default as bcrypt } from "npm:bcryptjs@^3.0.0";
