/**
 * Plain TypeScript dequantisation (quantisers for test models are in quant.ts, re-exported here), with the
 * f32 operation order of spec/kernels.md: every operation is rounded to f32 (Math.fround) before the next.
 * A product or sum of two f32 values computed in f64 and then rounded once equals the f32 operation,
 * so this matches a C `float` implementation bit for bit. Assumes a little-endian host (every browser
 * and Node platform in practice).
 */
import { fail } from "../errors.js";
import { f16Table } from "./half.js";
import { GGML, blockSize, describeType, isSupportedType, typeSize } from "./types.js";

export { f16ToF32, f32ToF16, f32ToBF16 } from "./half.js";
export { quantize, quantizeQ8_0, quantizeQ4_0, quantizeQ4_1, quantizeQ5_0, quantizeQ4_K, quantizeQ6_K } from "./quant.js";

const fr = Math.fround;

/** Bytes needed for `nElements` of `type` (a multiple of its block size). */
function checkArgs(type: number, bytes: Uint8Array, nElements: number): number {
  if (!isSupportedType(type)) fail("E_UNSUPPORTED", `dequantize: type ${describeType(type)} is not supported`);
  const bs = blockSize(type);
  if (!Number.isSafeInteger(nElements) || nElements < 0 || nElements % bs !== 0) {
    throw new RangeError(`dequantize: ${nElements} elements is not a whole number of ${describeType(type)} blocks of ${bs}`);
  }
  const need = (nElements / bs) * typeSize(type);
  if (bytes.length < need) throw new RangeError(`dequantize: ${nElements} ${describeType(type)} elements need ${need} bytes, got ${bytes.length}`);
  return need;
}

/** The first `nElements` values stored in `bytes` as f32, per spec/kernels.md. */
export function dequantize(type: number, bytes: Uint8Array, nElements: number): Float32Array {
  const need = checkArgs(type, bytes, nElements);
  const out = new Float32Array(nElements);
  const b = bytes;
  switch (type) {
    case GGML.F32:
      new Uint8Array(out.buffer).set(b.subarray(0, need));
      break;
    case GGML.F16: {
      const t = f16Table();
      for (let i = 0; i < nElements; i++) out[i] = t[b[2 * i]! | (b[2 * i + 1]! << 8)]!;
      break;
    }
    case GGML.BF16: {
      const o = new Uint32Array(out.buffer);
      for (let i = 0; i < nElements; i++) o[i] = ((b[2 * i]! | (b[2 * i + 1]! << 8)) << 16) >>> 0;
      break;
    }
    case GGML.Q8_0:
      for (let p = 0, y = 0; y < nElements; p += 34, y += 32) {
        const d = f16(b, p);
        for (let j = 0; j < 32; j++) out[y + j] = fr(d * ((b[p + 2 + j]! << 24) >> 24));
      }
      break;
    case GGML.Q4_0:
      for (let p = 0, y = 0; y < nElements; p += 18, y += 32) {
        const d = f16(b, p);
        for (let j = 0; j < 16; j++) {
          const q = b[p + 2 + j]!;
          out[y + j] = fr(d * ((q & 0xf) - 8));
          out[y + j + 16] = fr(d * ((q >>> 4) - 8));
        }
      }
      break;
    case GGML.Q4_1:
      for (let p = 0, y = 0; y < nElements; p += 20, y += 32) {
        const d = f16(b, p);
        const m = f16(b, p + 2);
        for (let j = 0; j < 16; j++) {
          const q = b[p + 4 + j]!;
          out[y + j] = fr(fr(d * (q & 0xf)) + m);
          out[y + j + 16] = fr(fr(d * (q >>> 4)) + m);
        }
      }
      break;
    case GGML.Q4_K:
      for (let p = 0, y = 0; y < nElements; p += 144, y += 256) dequantQ4KBlock(b, p, out, y);
      break;
    case GGML.Q6_K:
      for (let p = 0, y = 0; y < nElements; p += 210, y += 256) dequantQ6KBlock(b, p, out, y);
      break;
    default:
      throw new Error(`unreachable: ${type}`);
  }
  return out;
}

function f16(b: Uint8Array, p: number): number {
  return f16Table()[b[p]! | (b[p + 1]! << 8)]!;
}

/** Scale and min of Q4_K sub-block j (6 bits each) from the 12 packed bytes at `s`. */
function q4kScaleMin(b: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [b[s + j]! & 63, b[s + j + 4]! & 63];
  const sc = (b[s + j + 4]! & 0xf) | ((b[s + j - 4]! >>> 6) << 4);
  const mn = (b[s + j + 4]! >>> 4) | ((b[s + j]! >>> 6) << 4);
  return [sc, mn];
}

function dequantQ4KBlock(b: Uint8Array, p: number, out: Float32Array, y: number): void {
  const d = f16(b, p);
  const dmin = f16(b, p + 2);
  const s = p + 4;
  const qs = p + 16;
  for (let chunk = 0; chunk < 4; chunk++) {
    const [sc1, mn1] = q4kScaleMin(b, s, 2 * chunk);
    const [sc2, mn2] = q4kScaleMin(b, s, 2 * chunk + 1);
    const d1 = fr(d * sc1);
    const m1 = fr(dmin * mn1);
    const d2 = fr(d * sc2);
    const m2 = fr(dmin * mn2);
    const q = qs + 32 * chunk;
    const o = y + 64 * chunk;
    for (let l = 0; l < 32; l++) {
      const v = b[q + l]!;
      out[o + l] = fr(fr(d1 * (v & 0xf)) - m1);
      out[o + 32 + l] = fr(fr(d2 * (v >>> 4)) - m2);
    }
  }
}

function dequantQ6KBlock(b: Uint8Array, p: number, out: Float32Array, y: number): void {
  const d = f16(b, p + 208);
  for (let half = 0; half < 2; half++) {
    const ql = p + 64 * half;
    const qh = p + 128 + 32 * half;
    const sc = p + 192 + 8 * half;
    const o = y + 128 * half;
    for (let l = 0; l < 32; l++) {
      const is = l >>> 4;
      const h = b[qh + l]!;
      const a = b[ql + l]!;
      const c = b[ql + l + 32]!;
      const q1 = ((a & 0xf) | ((h & 3) << 4)) - 32;
      const q2 = ((c & 0xf) | (((h >>> 2) & 3) << 4)) - 32;
      const q3 = ((a >>> 4) | (((h >>> 4) & 3) << 4)) - 32;
      const q4 = ((c >>> 4) | (((h >>> 6) & 3) << 4)) - 32;
      out[o + l] = fr(fr(d * i8(b[sc + is]!)) * q1);
      out[o + l + 32] = fr(fr(d * i8(b[sc + is + 2]!)) * q2);
      out[o + l + 64] = fr(fr(d * i8(b[sc + is + 4]!)) * q3);
      out[o + l + 96] = fr(fr(d * i8(b[sc + is + 6]!)) * q4);
    }
  }
}

function i8(v: number): number {
  return (v << 24) >> 24;
}

