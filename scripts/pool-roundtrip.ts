/**
 * `npx tsx scripts/pool-roundtrip.ts [threads...]`: the worker pool's round trip (an empty job answered by
 * every worker: post, work, join) at several thread counts, hot (jobs back to back, as inside a forward
 * pass) and after 20 ms idle (the workers asleep, as at the first job of a step after other work). A
 * forward pass of SmolLM2 synchronises 151 times, so the hot figure x 151 is what threads add per pass.
 * Meant for machines with the cores to match (on 2 cores, 4+ threads oversubscribe and measure nothing).
 */
import { loadEngine } from "../src/node/engine.js";
import { embeddedModelPath } from "../src/node/embedded.js";
import type { PoolExecutor } from "../src/threads/pool.js";

const counts = process.argv.slice(2).map(Number);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const threads of counts.length ? counts : [2, 4, 8, 16]) {
  const e = await loadEngine(embeddedModelPath(), { threads, weights: "native" });
  const pool = e.executor as PoolExecutor;
  pool.roundTripMicros(2000); // warm
  const hot: number[] = [];
  for (let r = 0; r < 7; r++) hot.push(pool.roundTripMicros(2000));
  const asleep: number[] = [];
  for (let r = 0; r < 15; r++) {
    await new Promise((res) => setTimeout(res, 20));
    asleep.push(pool.roundTripMicros(1));
  }
  console.log(`${threads} threads: hot ${median(hot).toFixed(2)} us, after 20 ms idle ${median(asleep).toFixed(1)} us`);
  e.close();
}
