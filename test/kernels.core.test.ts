/** Loading the core (build choice, errors, worker-style instantiation) and the arena. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SpaceError } from "../src/errors.js";
import { loadCoreNode, packageRoot, relaxedSimdAvailable } from "../src/node/wasm.js";
import { Arena } from "../src/wasm/arena.js";
import { createMemory, instantiateCore, instantiateWithModule, MIN_PAGES } from "../src/wasm/core.js";
import { GGML, blockSize, rowBytes, typeSize, KERNEL_EXPORTS } from "../src/wasm/kernels.js";
import { randF32, rng } from "./kernels.helpers.js";

const plain = new Uint8Array(readFileSync(join(packageRoot(), "build", "space-plain.wasm")));
const relaxed = new Uint8Array(readFileSync(join(packageRoot(), "build", "space-relaxed.wasm")));

describe("format geometry", () => {
  it("has llama.cpp's block sizes", () => {
    const want: [number, number, number][] = [
      [GGML.F32, 1, 4], [GGML.F16, 1, 2], [GGML.BF16, 1, 2], [GGML.Q8_0, 32, 34],
      [GGML.Q4_0, 32, 18], [GGML.Q4_1, 32, 20], [GGML.Q4_K, 256, 144], [GGML.Q6_K, 256, 210],
    ];
    for (const [t, b, s] of want) {
      expect(blockSize(t)).toBe(b);
      expect(typeSize(t)).toBe(s);
    }
    expect(rowBytes(GGML.Q4_1, 576)).toBe(18 * 20);
    expect(rowBytes(GGML.F32, 576)).toBe(2304);
    expect(() => rowBytes(GGML.Q4_K, 576)).toThrow(SpaceError);
    expect(() => blockSize(6)).toThrow(/not supported/);
  });
});

describe("core loading", () => {
  it("loads both builds and reports which one it is", async () => {
    const p = await loadCoreNode("plain");
    expect(p.build).toBe("plain");
    expect(p.exports.isRelaxed()).toBe(0);
    expect(relaxedSimdAvailable()).toBe(true); // Node 20 with the flag, or newer
    const r = await loadCoreNode("relaxed");
    expect(r.build).toBe("relaxed");
    expect(r.exports.isRelaxed()).toBe(1);
    expect((await loadCoreNode("auto")).build).toBe("relaxed");
    for (const name of KERNEL_EXPORTS) expect(typeof p.exports[name]).toBe("function");
    expect(p.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it("falls back to plain on auto and refuses relaxed when relaxed SIMD is unavailable", async () => {
    const invalid = new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9, 9, 9]);
    expect((await instantiateCore({ plain, relaxed: invalid }, "auto")).build).toBe("plain");
    expect((await instantiateCore({ plain }, "auto")).build).toBe("plain");
    await expect(instantiateCore({ plain, relaxed: invalid }, "relaxed")).rejects.toMatchObject({ code: "E_WASM", message: /relaxed SIMD/ });
    await expect(instantiateCore({ plain }, "relaxed")).rejects.toMatchObject({ code: "E_WASM" });
    await expect(instantiateCore({ plain: invalid }, "plain")).rejects.toMatchObject({ code: "E_WASM" });
  });

  it("rejects an unshared memory", async () => {
    const m = await WebAssembly.compile(plain);
    await expect(instantiateWithModule(m, new WebAssembly.Memory({ initial: MIN_PAGES }))).rejects.toMatchObject({ code: "E_WASM" });
  });

  it("a second instance on the same memory (a worker's) computes the same results", async () => {
    const a = await instantiateCore({ plain, relaxed }, "relaxed", { memory: createMemory() });
    const b = await instantiateWithModule(a.module, a.memory);
    expect(b.build).toBe("relaxed");
    const arena = new Arena(a);
    const r = rng(9);
    const K = 64, N = 5, T = 3;
    const x = arena.alloc(T * K * 4), w = arena.alloc(N * K * 4), y1 = arena.alloc(T * N * 4), y2 = arena.alloc(T * N * 4);
    arena.f32(x, T * K).set(randF32(r, T * K));
    arena.f32(w, N * K).set(randF32(r, N * K));
    a.exports.matmul(GGML.F32, x, w, y1, T, K, N, 0, N);
    b.exports.matmul(GGML.F32, x, w, y2, T, K, N, 0, N);
    expect(Array.from(arena.f32(y2, T * N))).toEqual(Array.from(arena.f32(y1, T * N)));
  });
});

describe("Arena", () => {
  it("allocates aligned blocks above heapBase, grows memory, and resets to marks", async () => {
    const core = await loadCoreNode("plain", { memory: createMemory() });
    const arena = new Arena(core);
    expect(arena.base % 64).toBe(0);
    expect(arena.base).toBeGreaterThanOrEqual(core.exports.heapBase());
    expect(arena.used).toBe(0);
    const a = arena.alloc(3, 1);
    expect(a).toBe(arena.base);
    const b = arena.alloc(8);
    expect(b % 16).toBe(0);
    const c = arena.alloc(100, 64);
    expect(c % 64).toBe(0);
    expect(arena.used).toBe(c + 100 - arena.base);
    const m = arena.mark();
    const before = core.memory.buffer.byteLength;
    const big = arena.alloc(before + 5 * 65536, 64); // forces a grow
    expect(core.memory.buffer.byteLength).toBeGreaterThanOrEqual(big + before + 5 * 65536);
    arena.f32(big, 4).set([1, 2, 3, 4]); // a fresh view sees the grown buffer
    expect(Array.from(arena.f32(big, 4))).toEqual([1, 2, 3, 4]);
    arena.reset(m);
    expect(arena.mark()).toBe(m);
    expect(arena.alloc(16, 4)).toBe(m);
    expect(() => arena.reset(arena.base - 64)).toThrow(RangeError);
    expect(() => arena.alloc(2 ** 32)).toThrow(/4 GiB/);
    try {
      arena.alloc(2 ** 32);
    } catch (e) {
      expect((e as SpaceError).code).toBe("E_MODEL");
    }
  });
});
