/**
 * The command-line framework, from npm with its version range in full so
 * that `deno run https://…/cli.ts` works without this repository's deno.json.
 *
 * @module
 */
export { Command, CommanderError, InvalidArgumentError, Option } from "npm:commander@^14.0.0";
