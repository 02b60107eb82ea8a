/** Shared helpers of the kernel tests (test/kernels.*.test.ts): cores, memory, random data, comparisons. */
import { expect } from "vitest";
import { loadCoreNode } from "../src/node/wasm.js";
import { Arena } from "../src/wasm/arena.js";
import type { WasmCore } from "../src/wasm/core.js";
import { GGML, rowBytes, type KernelExports } from "../src/wasm/kernels.js";

export const BUILDS = ["plain", "relaxed"] as const;
export type Build = (typeof BUILDS)[number];

export const QUANT_TYPES = [GGML.Q8_0, GGML.Q4_0, GGML.Q4_1, GGML.Q4_K, GGML.Q6_K] as const;
export const ALL_TYPES = [GGML.F32, GGML.F16, GGML.BF16, ...QUANT_TYPES] as const;

export class Harness {
  readonly k: KernelExports;
  readonly arena: Arena;
  constructor(readonly core: WasmCore) {
    this.k = core.exports;
    this.arena = new Arena(core);
  }

  /** Runs fn with scratch allocations released afterwards. */
  scoped<R>(fn: () => R): R {
    const m = this.arena.mark();
    try {
      return fn();
    } finally {
      this.arena.reset(m);
    }
  }

  f32(data: ArrayLike<number>): number {
    const p = this.arena.alloc(Math.max(data.length, 1) * 4, 16);
    this.arena.f32(p, data.length).set(data);
    return p;
  }

  zeros(nF32: number): number {
    const p = this.arena.alloc(Math.max(nF32, 1) * 4, 16);
    this.arena.f32(p, nF32).fill(0);
    return p;
  }

  i32(data: ArrayLike<number>): number {
    const p = this.arena.alloc(Math.max(data.length, 1) * 4, 16);
    this.arena.i32(p, data.length).set(data);
    return p;
  }

  /** Raw bytes (weights, masks) at an odd address when `odd`: kernels must not assume alignment there. */
  bytes(data: Uint8Array, odd = false): number {
    const p = this.arena.alloc(Math.max(data.length, 1) + 1, 16) + (odd ? 1 : 0);
    this.arena.u8(p, data.length).set(data);
    return p;
  }

  /** A copy of f32 memory (views die when memory grows). */
  read(p: number, n: number): Float32Array {
    return this.arena.f32(p, n).slice();
  }
}

const cores = new Map<Build, Promise<Harness>>();

/** One harness (core + arena on its own memory) per build and test file. */
export function harness(build: Build): Promise<Harness> {
  let h = cores.get(build);
  if (!h) {
    h = loadCoreNode(build).then((c) => new Harness(c));
    cores.set(build, h);
  }
  return h;
}

/** mulberry32: fast, seedable, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/** f32 values in (-scale, scale), with occasional exact zeros. */
export function randF32(r: () => number, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r() < 0.02 ? 0 : (r() * 2 - 1) * scale;
  return a;
}

/** A random finite half (any finite bit pattern, subnormals and zeros included). */
export function randFiniteF16(r: () => number): number {
  let h = Math.floor(r() * 65536);
  if ((h & 0x7c00) === 0x7c00) h &= ~0x4000;
  return h;
}

function putF16(b: Uint8Array, o: number, h: number): void {
  b[o] = h & 0xff;
  b[o + 1] = h >>> 8;
}

/**
 * A random [rows, K] matrix of `type`: random bytes, except that every f16 scale is finite, and F16 /
 * BF16 / F32 elements are moderate finite numbers (so sums stay finite and comparisons meaningful).
 */
export function randomMatrix(type: number, rows: number, K: number, r: () => number): Uint8Array {
  const rb = rowBytes(type, K);
  const b = new Uint8Array(rb * rows);
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
  const dv = new DataView(b.buffer);
  const n = rows * K;
  switch (type) {
    case GGML.F32:
      for (let i = 0; i < n; i++) dv.setFloat32(4 * i, (r() * 2 - 1) * 2, true);
      break;
    case GGML.F16:
      // sign | exponent 0..15 (|x| < 2, subnormals included) | mantissa
      for (let i = 0; i < n; i++) putF16(b, 2 * i, (r() < 0.5 ? 0x8000 : 0) | (randInt(r, 0, 15) << 10) | randInt(r, 0, 1023));
      break;
    case GGML.BF16:
      for (let i = 0; i < n; i++) {
        const f = new Float32Array([(r() * 2 - 1) * 4]);
        const bits = new Uint32Array(f.buffer)[0];
        putF16(b, 2 * i, bits >>> 16);
      }
      break;
    case GGML.Q8_0:
    case GGML.Q4_0:
      for (let o = 0; o < b.length; o += type === GGML.Q8_0 ? 34 : 18) putF16(b, o, randFiniteF16(r));
      break;
    case GGML.Q4_1:
      for (let o = 0; o < b.length; o += 20) {
        putF16(b, o, randFiniteF16(r));
        putF16(b, o + 2, randFiniteF16(r));
      }
      break;
    case GGML.Q4_K:
      for (let o = 0; o < b.length; o += 144) {
        putF16(b, o, randFiniteF16(r));
        putF16(b, o + 2, randFiniteF16(r));
      }
      break;
    case GGML.Q6_K:
      for (let o = 0; o < b.length; o += 210) putF16(b, o + 208, randFiniteF16(r));
      break;
  }
  return b;
}

const f32b = new Float32Array(1);
const u32b = new Uint32Array(f32b.buffer);
function bitsOf(x: number): number {
  f32b[0] = x;
  return u32b[0];
}

/** Index of the first element whose bits differ (NaN equals any NaN), or -1. */
export function firstBitDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  }
  return -1;
}

export function expectSameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const i = firstBitDiff(actual, expected);
  if (i >= 0) {
    expect.fail(`${what}: element ${i} is ${actual[i]} (0x${bitsOf(actual[i]).toString(16)}), expected ${expected[i]} (0x${bitsOf(expected[i]).toString(16)})`);
  }
}

/** |a - e| <= tol(i) for every element (NaN must match NaN). */
export function expectClose(actual: Float32Array, expected: Float32Array, tol: (i: number) => number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) ? Number.isNaN(a) : Math.abs(a - e) <= tol(i)) continue;
    expect.fail(`${what}: element ${i} is ${a}, expected ${e} within ${tol(i)}`);
  }
}
