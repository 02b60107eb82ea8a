/** Dequantisation (dequantRows, embed) of every format vs the TypeScript reference, bit for bit. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { GGML, blockSize, rowBytes, typeName } from "../src/wasm/kernels.js";
import { dequantRowRef, dequantRowsRef, embedRef, f16BitsToF32Bits } from "../src/wasm/reference.js";
import { ALL_TYPES, BUILDS, expectSameBits, harness, randInt, randomMatrix, rng } from "./kernels.helpers.js";

describe.each(BUILDS)("dequantisation (%s build)", (build) => {
  it("converts every IEEE half exactly (normals, subnormals, zeros, infinities, NaN payloads)", async () => {
    const h = await harness(build);
    h.scoped(() => {
      const halves = new Uint8Array(65536 * 2);
      for (let i = 0; i < 65536; i++) {
        halves[2 * i] = i & 0xff;
        halves[2 * i + 1] = i >>> 8;
      }
      const w = h.bytes(halves);
      const out = h.zeros(65536);
      h.k.dequantRows(GGML.F16, w, out, 65536, 0, 1);
      const bits = h.arena.u8(out, 65536 * 4);
      const got = new Uint32Array(bits.slice().buffer);
      for (let i = 0; i < 65536; i++) {
        if (got[i] !== f16BitsToF32Bits(i)) expect.fail(`half 0x${i.toString(16)}: got 0x${got[i].toString(16)}, expected 0x${f16BitsToF32Bits(i).toString(16)}`);
      }
      const v = h.read(out, 65536);
      expect(v[0x3c00]).toBe(1);
      expect(v[0xc000]).toBe(-2);
      expect(v[0x0001]).toBe(2 ** -24);
      expect(v[0x03ff]).toBe(1023 * 2 ** -24);
      expect(v[0x7bff]).toBe(65504);
      expect(v[0x7c00]).toBe(Infinity);
      expect(v[0xfc00]).toBe(-Infinity);
      expect(Object.is(v[0x8000], -0)).toBe(true);
      expect(got[0x7e00]).toBe(0x7fc00000);
      expect(got[0x7c01]).toBe(0x7f802000);
    });
  });

  it("keeps BF16 and F32 bit patterns (NaN and infinity included)", async () => {
    const h = await harness(build);
    const r = rng(7);
    for (const type of [GGML.BF16, GGML.F32]) {
      h.scoped(() => {
        const K = 1024;
        const raw = new Uint8Array(rowBytes(type, K));
        for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(r() * 256);
        const out = h.zeros(K);
        h.k.dequantRows(type, h.bytes(raw), out, K, 0, 1);
        const got = new Uint32Array(h.arena.u8(out, K * 4).slice().buffer);
        const want = new Uint32Array(dequantRowRef(type, raw, K).buffer);
        expect(Array.from(got)).toEqual(Array.from(want));
      });
    }
  });

  it.each(ALL_TYPES.map((t) => [typeName(t), t] as const))("dequantRows(%s) == dequantRowRef on random valid blocks", async (_name, type) => {
    const h = await harness(build);
    const blk = Math.max(blockSize(type), 4);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (rows, nBlocks, seed) => {
        const r = rng(seed);
        const K = blk === 4 ? 4 * randInt(r, 1, 96) : blk * nBlocks;
        const W = randomMatrix(type, rows, K, r);
        const r0 = randInt(r, 0, rows - 1);
        const r1 = randInt(r, r0 + 1, rows);
        h.scoped(() => {
          const w = h.bytes(W);
          const out = h.zeros((r1 - r0) * K);
          h.k.dequantRows(type, w, out, K, r0, r1);
          expectSameBits(h.read(out, (r1 - r0) * K), dequantRowsRef(type, W, K, r0, r1), `${typeName(type)} K=${K} rows [${r0},${r1})`);
        });
      }),
      { numRuns: 25 },
    );
  });

  it.each(ALL_TYPES.map((t) => [typeName(t), t] as const))("embed(%s) looks up dequantised rows", async (_name, type) => {
    const h = await harness(build);
    const r = rng(type + 100);
    const V = 13;
    const D = Math.max(blockSize(type), 4) * 2;
    const table = randomMatrix(type, V, D, r);
    const ids = Array.from({ length: 9 }, () => randInt(r, 0, V - 1));
    h.scoped(() => {
      const out = h.zeros(ids.length * D);
      h.k.embed(type, h.bytes(table), h.i32(ids), ids.length, D, out);
      expectSameBits(h.read(out, ids.length * D), embedRef(type, table, ids, D), `embed ${typeName(type)}`);
    });
  });
});
