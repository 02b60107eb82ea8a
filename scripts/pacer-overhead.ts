// What generate()'s pacer (src/decode/pacer.ts) costs, in two parts measured in-process, in CPU time:
//  - a pause with no yield due (every step): ns per call;
//  - a yield (at most one per YIELD_EVERY_MS): us per macrotask round trip;
// and the bound they give on a generation's time for steps of a given length. (A direct A/B of steps with
// and without pauses was tried: on a shared 2-core VM its noise is a few %, far above the cost.)
// Run: npx tsx scripts/pacer-overhead.ts
import { Pacer, YIELD_EVERY_MS } from "../src/decode/pacer.js";

/** CPU milliseconds of this process (wall time on a shared VM mostly measures the other processes). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const N = 2_000_000;
const never = new Pacer(undefined, new AbortController().signal, Infinity);
let t = cpuMs();
for (let i = 0; i < N; i++) if (never.pause()) throw new Error("no yield is due");
const pauseNs = ((cpuMs() - t) * 1e6) / N;

const Y = 20_000;
const always = new Pacer(undefined, new AbortController().signal, 0);
t = cpuMs();
for (let i = 0; i < Y; i++) {
  const turn = always.pause();
  if (turn) await turn;
}
const yieldUs = ((cpuMs() - t) * 1000) / always.yields; // (the pauses between yields are in it too)

console.log(`pause with no yield due: ${pauseNs.toFixed(1)} ns; yield (macrotask round trip): ${yieldUs.toFixed(2)} us`);
for (const stepMs of [0.1, 0.3, 1, 5]) {
  const perStep = pauseNs / 1e6 + (yieldUs / 1000) * (stepMs / Math.max(stepMs, YIELD_EVERY_MS));
  console.log(`steps of ${stepMs} ms: overhead at most ${((perStep / stepMs) * 100).toFixed(3)}%`);
}
