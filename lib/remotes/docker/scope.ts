/**
 * Token scopes (Docker token auth's `repository:NAME:ACTIONS`) for what a
 * resolver or pusher does to a repository.
 *
 * @module
 */

/** What access a scope asks for. */
export interface ScopeOptions {
  /** Writing too, not just reading. */
  push?: boolean;
  /** A repository of the same registry blobs are mounted from: pull on it too. */
  mountFrom?: string;
}

/**
 * The scope for working on `repository`: pull, or pull and push, plus pull on
 * the mount source, so one token covers every request of a copy.
 *
 * @example
 * ```ts
 * import { repositoryScope } from "./scope.ts";
 * console.log(repositoryScope("team/app", { push: true, mountFrom: "team/base" }));
 * // "repository:team/app:pull,push repository:team/base:pull"
 * ```
 */
export function repositoryScope(repository: string, opts: ScopeOptions = {}): string {
  if (!opts.push) return `repository:${repository}:pull`;
  const own = `repository:${repository}:pull,push`;
  const from = opts.mountFrom;
  return from && from !== repository ? `${own} repository:${from}:pull` : own;
}
