import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Sha256 } from "../../lib/sha256.ts";

Deno.test("Sha256 matches node:crypto at every padding boundary, fed in uneven pieces", () => {
  for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 65536]) {
    const data = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
    const h = new Sha256();
    for (let i = 0, step = 1; i < n; i += step, step = (step * 7) % 71 + 1) {
      h.update(data.subarray(i, i + step));
    }
    assert.equal(h.hex(), createHash("sha256").update(data).digest("hex"), `${n} bytes`);
  }
});
