/**
 * Dequantisation against test/fixtures/dequant.json, produced by tools/gguf_fixtures.py from the
 * `gguf` Python package (llama.cpp's gguf-py) and numpy, not from our code. Tolerance: none. Every value
 * must have the same f32 bits (NaN only has to be NaN): numpy evaluates each formula with separate,
 * unfused f32 operations in the order spec/kernels.md fixes, so there is nothing to forgive.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { dequantize, f16ToF32, f32ToBF16, f32ToF16, quantize, quantizeQ4_1, quantizeQ8_0 } from "../src/gguf/dequant.js";
import { GGML, SUPPORTED_TYPES, blockSize, rowBytes, typeName } from "../src/gguf/types.js";
import { SpaceError } from "../src/errors.js";
import { expectSpaceError, floats } from "./gguf.shared.js";

interface Fixture {
  dequant: { type: string; typeId: number; nElements: number; note: string; raw: string; expected: string }[];
  quant: { type: string; typeId: number; input: string; expected: string }[];
}
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "dequant.json"), "utf8")) as Fixture;
const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64"));
const f32s = (s: string) => {
  const b = b64(s);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

function expectSameF32(got: Float32Array, want: Float32Array, label: string): void {
  expect(got.length, label).toBe(want.length);
  const gb = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const wb = new Uint32Array(want.buffer, want.byteOffset, want.length);
  let mismatches = 0;
  let first = "";
  for (let i = 0; i < got.length; i++) {
    const same = Number.isNaN(want[i]!) ? Number.isNaN(got[i]!) : gb[i] === wb[i];
    if (!same) {
      if (mismatches++ === 0) first = `element ${i}: got ${got[i]} (0x${gb[i]!.toString(16)}), want ${want[i]} (0x${wb[i]!.toString(16)})`;
    }
  }
  expect(mismatches, `${label}: ${mismatches} mismatches, first ${first}`).toBe(0);
}

describe("dequantize matches gguf-py exactly", () => {
  it("covers every supported type", () => {
    expect(new Set(fixture.dequant.map((d) => d.typeId))).toEqual(new Set(SUPPORTED_TYPES));
  });
  for (const d of fixture.dequant) {
    it(`${d.type}: ${d.note}`, () => {
      expect(typeName(d.typeId)).toBe(d.type);
      expectSameF32(dequantize(d.typeId, b64(d.raw), d.nElements), f32s(d.expected), d.type);
    });
  }
});

describe("quantisers match gguf-py (llama.cpp's reference quantisers) exactly", () => {
  for (const q of fixture.quant) {
    it(q.type, () => {
      const x = f32s(q.input);
      const got = q.typeId === GGML.Q8_0 ? quantizeQ8_0(x) : q.typeId === GGML.Q4_1 ? quantizeQ4_1(x) : quantize(q.typeId, x);
      expect(got).toEqual(b64(q.expected));
    });
  }
});

describe("half precision", () => {
  it("f16 -> f32 -> f16 is the identity on every non-NaN half", () => {
    for (let h = 0; h < 65536; h++) {
      const v = f16ToF32(h);
      if (Number.isNaN(v)) {
        expect(h & 0x7c00).toBe(0x7c00);
        expect(Number.isNaN(f16ToF32(f32ToF16(v)))).toBe(true);
      } else {
        expect(f32ToF16(v)).toBe(h);
      }
    }
  });

  it("f32 -> f16 rounds to nearest, ties to even", () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true }), (x) => {
        const h = f32ToF16(x);
        const v = f16ToF32(h);
        if (Math.abs(x) >= 65520) {
          expect(v).toBe(x > 0 ? Infinity : -Infinity);
          return;
        }
        expect(Object.is(Math.sign(v), Math.sign(x)) || v === 0).toBe(true);
        // Neighbours of h (same sign) are no closer.
        for (const n of [(h & 0x7fff) - 1, (h & 0x7fff) + 1]) {
          if (n < 0 || n >= 0x7c00) continue;
          const nv = f16ToF32((h & 0x8000) | n);
          const dv = Math.abs(v - x);
          const dn = Math.abs(nv - x);
          expect(dv <= dn).toBe(true);
          if (dv === dn) expect(h & 1).toBe(0);
        }
      }),
      { numRuns: 20000, seed: 99 },
    );
  });

  it("f32 -> bf16 rounds to nearest even and keeps NaN a NaN", () => {
    expect(f32ToBF16(1)).toBe(0x3f80);
    expect(f32ToBF16(NaN) & 0x7fc0).toBe(0x7fc0);
    expect(f32ToBF16(Infinity)).toBe(0x7f80);
    expect(f32ToBF16(-3.4028234663852886e38)).toBe(0xff80); // rounds up to -inf
    expect(f32ToBF16(1 + 2 ** -8)).toBe(0x3f80); // tie, to even
    expect(f32ToBF16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie, to even
  });
});

describe("quantise then dequantise", () => {
  const x = floats(256 * 8, 7).map((v, i) => v * (i % 256 < 128 ? 0.02 : 0.5));
  const rms = (a: Float32Array, b: Float32Array) => {
    let e = 0;
    let s = 0;
    for (let i = 0; i < a.length; i++) {
      e += (a[i]! - b[i]!) ** 2;
      s += a[i]! ** 2;
    }
    return Math.sqrt(e / s);
  };
  const bounds: Record<string, number> = { F32: 0, F16: 1e-3, BF16: 5e-3, Q8_0: 0.01, Q4_0: 0.15, Q4_1: 0.1, Q4_K: 0.1, Q6_K: 0.03 };
  for (const type of SUPPORTED_TYPES) {
    it(`${typeName(type)} relative RMS error below ${bounds[typeName(type)]}`, () => {
      const q = quantize(type, x);
      expect(q.length).toBe(rowBytes(type, x.length));
      const y = dequantize(type, q, x.length);
      expect(rms(x, y)).toBeLessThanOrEqual(bounds[typeName(type)]!);
    });
  }

  it("Q4_K and Q6_K keep zero blocks and constant blocks sane", () => {
    for (const type of [GGML.Q4_K, GGML.Q6_K]) {
      expect(Array.from(dequantize(type, quantize(type, new Float32Array(256)), 256)).every((v) => v === 0)).toBe(true);
      const c = dequantize(type, quantize(type, new Float32Array(256).fill(-0.75)), 256);
      for (const v of c) expect(Math.abs(v + 0.75)).toBeLessThan(0.05);
    }
  });
});

describe("argument checks", () => {
  it("unsupported types are E_UNSUPPORTED", () => {
    expectSpaceError(() => dequantize(GGML.IQ2_XXS, new Uint8Array(66), 256), "E_UNSUPPORTED", /IQ2_XXS \(id 16\)/);
    expectSpaceError(() => quantize(GGML.IQ2_XXS, new Float32Array(256)), "E_UNSUPPORTED", /IQ2_XXS/);
  });
  it("partial blocks and short buffers are RangeErrors (caller bugs)", () => {
    expect(() => dequantize(GGML.Q8_0, new Uint8Array(34), 31)).toThrow(RangeError);
    expect(() => dequantize(GGML.Q8_0, new Uint8Array(33), 32)).toThrow(RangeError);
    expect(() => quantizeQ8_0(new Float32Array(31))).toThrow(RangeError);
    expect(() => dequantize(GGML.Q8_0, new Uint8Array(33), 32)).not.toThrow(SpaceError);
  });
  it("block sizes", () => {
    expect(SUPPORTED_TYPES.map((t) => [typeName(t), blockSize(t), rowBytes(t, 256)])).toEqual([
      ["F32", 1, 1024],
      ["F16", 1, 512],
      ["Q4_0", 32, 144],
      ["Q4_1", 32, 160],
      ["Q8_0", 32, 272],
      ["Q4_K", 256, 144],
      ["Q6_K", 256, 210],
      ["BF16", 1, 512],
    ]);
    expect(() => rowBytes(GGML.Q4_K, 32)).toThrow(RangeError);
    expect(() => rowBytes(31, 32)).toThrow(RangeError);
  });
});
