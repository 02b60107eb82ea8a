/** Helpers for the GGUF tests: a small valid file, a raw byte builder for crafting bad ones, paths. */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { SpaceError, type ErrorCode } from "../src/errors.js";
import { quantize } from "../src/gguf/dequant.js";
import { GGML, MetaType, type GGUFMetaValue } from "../src/gguf/types.js";
import type { GGUFWriteSpec } from "../src/gguf/writer.js";

export const VENV_PYTHON = join(process.env.SPACE_VENV ?? join(homedir(), ".cache", "space", "venv"), "bin", "python");
export const HAVE_VENV = existsSync(VENV_PYTHON);
export const MODEL_PATH = join(homedir(), ".cache", "space", "models", "SmolLM2-135M-Instruct.Q4_1.gguf");
export const HAVE_MODEL = existsSync(MODEL_PATH);

/** Deterministic pseudo-random floats (xorshift32), roughly in [-1, 1). */
export function floats(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** A small valid file: a few metadata values of several types and three tensors. */
export function smallSpec(): GGUFWriteSpec {
  const metadata = new Map<string, GGUFMetaValue>([
    ["general.architecture", { type: MetaType.STRING, value: "llama" }],
    ["llama.block_count", { type: MetaType.UINT32, value: 2 }],
    ["llama.rope.freq_base", { type: MetaType.FLOAT32, value: 10000 }],
    ["flag", { type: MetaType.BOOL, value: true }],
    ["big", { type: MetaType.UINT64, value: 1n << 60n }],
    ["tokens", { type: MetaType.ARRAY, itemType: MetaType.STRING, value: ["a", "bc", "héllo"] }],
    ["ids", { type: MetaType.ARRAY, itemType: MetaType.INT32, value: [1, -2, 3] }],
  ]);
  return {
    metadata,
    tensors: [
      { name: "norm.weight", type: GGML.F32, dims: [8], data: quantize(GGML.F32, floats(8, 1)) },
      { name: "w8", type: GGML.Q8_0, dims: [32, 2], data: quantize(GGML.Q8_0, floats(64, 2)) },
      { name: "w4", type: GGML.Q4_1, dims: [32, 1], data: quantize(GGML.Q4_1, floats(32, 3)) },
    ],
  };
}

/** Little-endian byte builder for hand-made (possibly invalid) GGUF files. */
export class Raw {
  private parts: number[] = [];
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u32(v: number): this {
    for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  u64(v: number | bigint): this {
    let b = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < 8; i++) {
      this.parts.push(Number(b & 0xffn));
      b >>= 8n;
    }
    return this;
  }
  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.parts.push(b[i]!);
    return this;
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u64(b.length).bytes(b);
  }
  /** Magic, version, counts. */
  header(nTensors: number | bigint, nKV: number | bigint, version = 3): this {
    return this.bytes([0x47, 0x47, 0x55, 0x46]).u32(version).u64(nTensors).u64(nKV);
  }
  /** Tensor info: name, dims, type, relative offset. */
  tensor(name: string, dims: (number | bigint)[], type: number, offset: number | bigint): this {
    this.str(name).u32(dims.length);
    for (const d of dims) this.u64(d);
    return this.u32(type).u64(offset);
  }
  padTo(alignment: number): this {
    while (this.parts.length % alignment !== 0) this.parts.push(0);
    return this;
  }
  zeros(n: number): this {
    for (let i = 0; i < n; i++) this.parts.push(0);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** Runs `fn`, expecting a SpaceError with `code` whose message matches every pattern. */
export function expectSpaceError(fn: () => unknown, code: ErrorCode, ...patterns: RegExp[]): SpaceError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected a SpaceError").toBeInstanceOf(SpaceError);
  const err = caught as SpaceError;
  expect(err.code, err.message).toBe(code);
  for (const p of patterns) expect(err.message).toMatch(p);
  return err;
}
