import assert from "node:assert/strict";

const TIMERS = new URL("../../lib/timers.ts", import.meta.url).href;

Deno.test("in a process that ends with Deno.exit, timers fire, cancelled ones do not, intervals tick", async () => {
  const script = `
    import { after, every, useExitingProcessTimers } from "${TIMERS}";
    useExitingProcessTimers();
    const seen = [];
    after(20, () => seen.push("fired"));
    const cancel = after(30, () => seen.push("cancelled one fired"));
    cancel();
    let ticks = 0;
    const stop = every(5, () => ticks++);
    let selfTicks = 0;
    const selfStop = every(5, () => {
      selfTicks++;
      selfStop();
    });
    await new Promise((r) => after(80, r));
    stop();
    const before = ticks;
    await new Promise((r) => after(40, r));
    console.log(JSON.stringify({
      seen,
      ticked: before > 2,
      stopped: ticks === before,
      stoppedFromInside: selfTicks,
    }));
    Deno.exit(0);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
    seen: ["fired"],
    ticked: true,
    stopped: true,
    stoppedFromInside: 1,
  });
});

Deno.test("as a library, a cancelled timer leaves nothing pending (the test sanitizer would say)", async () => {
  const { after, every } = await import("../../lib/timers.ts");
  let fired = false;
  after(60_000, () => fired = true)();
  every(60_000, () => fired = true)();
  await new Promise((r) => after(5, () => r(undefined)));
  assert.equal(fired, false);
});
