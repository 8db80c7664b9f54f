import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { inShard, parseShard, shardOf } from "../../lib/sync/shard.ts";
import { Budgets, Limiter } from "../../lib/sync/limiter.ts";

Deno.test("shard: I/N and auto/N from JOB_COMPLETION_INDEX", () => {
  assert.deepEqual(parseShard("0/3"), { index: 0, count: 3 });
  assert.deepEqual(parseShard("auto/4", { JOB_COMPLETION_INDEX: "3" }), { index: 3, count: 4 });
  for (const bad of ["3/3", "1/0", "x/2", "1", "-1/2", "1/2/3"]) {
    assert.throws(() => parseShard(bad), UsageError, bad);
  }
  assert.throws(() => parseShard("auto/2"), /JOB_COMPLETION_INDEX is not set/);
  assert.throws(() => parseShard("auto/2", { JOB_COMPLETION_INDEX: "2" }), /does not exist/);
});

Deno.test("shard: every reference is in exactly one shard, stably, and shards share the work", () => {
  const refs = Array.from({ length: 300 }, (_, i) => `docker://r.example/app:${i}`);
  const counts = [0, 0, 0];
  for (const ref of refs) {
    const owners = [0, 1, 2].filter((index) => inShard(ref, { index, count: 3 }));
    assert.equal(owners.length, 1, ref);
    assert.equal(shardOf(ref, 3), owners[0]);
    assert.equal(shardOf(ref, 3), shardOf(ref, 3));
    counts[owners[0]]++;
  }
  // A hash spreads 300 names: no shard gets less than a fifth.
  for (const c of counts) assert.ok(c > 60, `uneven shards ${counts}`);
  assert.ok(inShard("anything", undefined));
});

Deno.test("limiter: never more than its size at once, first come first served", async () => {
  const limiter = new Limiter(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  await Promise.all(Array.from({ length: 6 }, (_, i) =>
    limiter.run(async () => {
      running++;
      peak = Math.max(peak, running);
      order.push(i);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    })));
  assert.equal(peak, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
});

Deno.test("budgets: tasks holding two stores in opposite orders do not deadlock", async () => {
  const budgets = new Budgets(1);
  const work = (keys: string[]) =>
    budgets.run(keys, () => new Promise<void>((r) => setTimeout(r, 2)));
  await Promise.all([
    ...Array.from({ length: 5 }, () => work(["a", "b"])),
    ...Array.from({ length: 5 }, () => work(["b", "a"])),
    work(["a", "a"]),
  ]);
  assert.equal(budgets.get("a").size, 1);
});
