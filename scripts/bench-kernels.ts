/**
 * Quick single-thread timing of the matmul kernel (not a test):
 *   npx tsx scripts/bench-kernels.ts [K] [N]
 * Prints GFLOP/s (2*T*K*N per call) for F32, Q4_1 and Q8_0 weights, T in {1, 8}, both builds.
 */
import { loadCoreNode } from "../src/node/wasm.js";
import { Arena } from "../src/wasm/arena.js";
import { GGML, rowBytes, typeName } from "../src/wasm/kernels.js";

const K = Number(process.argv[2] ?? 576);
const N = Number(process.argv[3] ?? 1536);

async function main(): Promise<void> {
  for (const build of ["plain", "relaxed"] as const) {
    const core = await loadCoreNode(build);
    const arena = new Arena(core);
    const k = core.exports;
    for (const type of [GGML.F32, GGML.Q4_1, GGML.Q8_0]) {
      const w = arena.alloc(rowBytes(type, K) * N, 64);
      const u8 = arena.u8(w, rowBytes(type, K) * N);
      for (let i = 0; i < u8.length; i++) u8[i] = (i * 2654435761) >>> 24;
      if (type === GGML.F32) arena.f32(w, K * N).fill(0.01);
      for (const T of [1, 8]) {
        const x = arena.alloc(T * K * 4, 64);
        arena.f32(x, T * K).fill(0.5);
        const y = arena.alloc(T * N * 4, 64);
        const flops = 2 * T * K * N;
        const call = () => k.matmul(type, x, w, y, T, K, N, 0, N);
        for (let i = 0; i < 20; i++) call(); // warm up (TurboFan)
        let reps = 0;
        const t0 = performance.now();
        let t1 = t0;
        while (t1 - t0 < 400) {
          call();
          reps++;
          t1 = performance.now();
        }
        const gflops = (flops * reps) / ((t1 - t0) / 1000) / 1e9;
        console.log(`${build.padEnd(7)} ${typeName(type).padEnd(5)} K=${K} N=${N} T=${T}: ${gflops.toFixed(2)} GFLOP/s (${((t1 - t0) / reps).toFixed(3)} ms/call)`);
      }
    }
  }
}

void main();
