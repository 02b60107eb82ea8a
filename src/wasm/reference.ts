/**
 * Plain TypeScript reference of every kernel of the WebAssembly core, with the same order of f32
 * operations (spec/kernels.md). The tests compare the plain build against it bit for bit.
 *
 * f32 arithmetic is emulated with Math.fround after every operation: the product, sum, quotient or square
 * root of two f32 values computed in f64 and rounded once to f32 equals the f32 operation (f64 has more
 * than twice f32's precision), so no step here can differ from WebAssembly's f32 instructions. exp is a
 * bit-exact port of the routine the core uses. ropeTableRef uses JavaScript's Math.pow / Math.cos /
 * Math.sin where the core uses AssemblyScript's ports of musl; both are accurate to well under 1 ulp in
 * f64, so the f32-rounded tables agree except in astronomically rare ties (the tests check many).
 *
 * Arrays are plain typed arrays (not WebAssembly memory); shapes as in kernels.ts.
 */
import { fail } from "../errors.js";
import { GGML, rowBytes } from "./kernels.js";

const fr = Math.fround;

// ---------------------------------------------------------------------------------------------------
// expf: AssemblyScript's Mathf.exp (std/assembly/util/math.ts expf_lut, a port of musl / ARM optimized
// routines' expf), evaluated in f64 exactly as there. 2^(i/32) table: bits of 2^(i/32) minus (i << 47).

const EXP2F_TAB_HEX = [
  "3FF0000000000000", "3FEFD9B0D3158574", "3FEFB5586CF9890F", "3FEF9301D0125B51",
  "3FEF72B83C7D517B", "3FEF54873168B9AA", "3FEF387A6E756238", "3FEF1E9DF51FDEE1",
  "3FEF06FE0A31B715", "3FEEF1A7373AA9CB", "3FEEDEA64C123422", "3FEECE086061892D",
  "3FEEBFDAD5362A27", "3FEEB42B569D4F82", "3FEEAB07DD485429", "3FEEA47EB03A5585",
  "3FEEA09E667F3BCD", "3FEE9F75E8EC5F74", "3FEEA11473EB0187", "3FEEA589994CCE13",
  "3FEEACE5422AA0DB", "3FEEB737B0CDC5E5", "3FEEC49182A3F090", "3FEED503B23E255D",
  "3FEEE89F995AD3AD", "3FEEFF76F2FB5E47", "3FEF199BDD85529C", "3FEF3720DCEF9069",
  "3FEF5818DCFBA487", "3FEF7C97337B9B5F", "3FEFA4AFA2A490DA", "3FEFD0765B6E4540",
];
const EXP2F_HI = new Uint32Array(EXP2F_TAB_HEX.map((h) => parseInt(h.slice(0, 8), 16)));
const EXP2F_LO = new Uint32Array(EXP2F_TAB_HEX.map((h) => parseInt(h.slice(8), 16)));

// Little-endian views of one f64 / one f32 (every browser and Node platform is little endian).
const F64 = new Float64Array(1);
const U64 = new Uint32Array(F64.buffer); // [lo, hi]
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

function f64FromBits(hi: number, lo: number): number {
  U64[0] = lo;
  U64[1] = hi;
  return F64[0];
}

export function f32Bits(x: number): number {
  F32[0] = x;
  return U32[0];
}

export function f32FromBits(bits: number): number {
  U32[0] = bits;
  return F32[0];
}

const EXPF_SHIFT = f64FromBits(0x43380000, 0); // 0x1.8p+52
const EXPF_INVLN2N = f64FromBits(0x3ff71547, 0x652b82fe) * 32;
const EXPF_C0 = f64FromBits(0x3fac6af8, 0x4b912394) / 32 / 32 / 32;
const EXPF_C1 = f64FromBits(0x3fcebfce, 0x50fac4f3) / 32 / 32;
const EXPF_C2 = f64FromBits(0x3fe62e42, 0xff0c52d6) / 32;
const EXPF_OVER = f32FromBits(0x42b17217); // log(0x1p128)
const EXPF_UNDER = f32FromBits(0xc2cff1b4); // log(0x1p-150)

/** expf(x) for an f32 x, bit-identical to AssemblyScript's Mathf.exp. */
export function expf(x: number): number {
  x = fr(x);
  const ix = f32Bits(x);
  const ux = (ix >>> 20) & 0x7ff;
  if (ux >= 0x42b) {
    // |x| >= 88 or NaN
    if (ix === 0xff800000) return 0;
    if (ux >= 0x7f8) return fr(x + x);
    if (x > EXPF_OVER) return fr(x * 2 ** 127);
    if (x < EXPF_UNDER) return 0;
  }
  // x * 32 / ln2 = k + r, r in [-1/2, 1/2], k an integer held in the low bits of kd.
  let z = EXPF_INVLN2N * x;
  const kd = z + EXPF_SHIFT;
  F64[0] = kd;
  const kiLo = U64[0];
  const r = z - (kd - EXPF_SHIFT);
  // t = tab[k % 32] + (k << 47) as u64: only k's low 17 bits reach the high word, the low word is unchanged.
  const i = kiLo & 31;
  const s = f64FromBits((EXP2F_HI[i] + (kiLo << 15)) >>> 0, EXP2F_LO[i]);
  z = EXPF_C0 * r + EXPF_C1;
  let y = EXPF_C2 * r + 1;
  y += z * (r * r);
  y *= s;
  return fr(y);
}

// ---------------------------------------------------------------------------------------------------
// Formats

/** IEEE half bits -> f32 bits, exact (NaN payloads kept, as the core does). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 31) return (sign | 0x7f800000 | (m << 13)) >>> 0;
  const mag = e === 0 ? m * 2 ** -24 : (1024 + m) * 2 ** (e - 25);
  return (sign | f32Bits(mag)) >>> 0;
}

/** IEEE half bits -> value. */
export function f16ToF32(h: number): number {
  return f32FromBits(f16BitsToF32Bits(h));
}

function f16At(b: Uint8Array, o: number): number {
  return f16ToF32(b[o] | (b[o + 1] << 8));
}

function i8(v: number): number {
  return (v << 24) >> 24;
}

/**
 * One row of K elements of `type` (bytes: at least rowBytes(type, K), starting at the row) to f32, with
 * the values of spec/kernels.md, written in llama.cpp's dequantize_row_* loop order.
 */
export function dequantRowRef(type: number, bytes: Uint8Array, K: number): Float32Array {
  const need = rowBytes(type, K);
  if (bytes.length < need) fail("E_MODEL", `dequantRowRef: ${bytes.length} bytes for a row that needs ${need}`);
  const out = new Float32Array(K);
  const bits = new Uint32Array(out.buffer);
  const b = bytes;
  switch (type) {
    case GGML.F32:
      for (let k = 0; k < K; k++) bits[k] = (b[4 * k] | (b[4 * k + 1] << 8) | (b[4 * k + 2] << 16) | (b[4 * k + 3] << 24)) >>> 0;
      break;
    case GGML.F16:
      for (let k = 0; k < K; k++) bits[k] = f16BitsToF32Bits(b[2 * k] | (b[2 * k + 1] << 8));
      break;
    case GGML.BF16:
      for (let k = 0; k < K; k++) bits[k] = ((b[2 * k] | (b[2 * k + 1] << 8)) << 16) >>> 0;
      break;
    case GGML.Q8_0:
      for (let blk = 0, o = 0; blk < K / 32; blk++, o += 34) {
        const d = f16At(b, o);
        for (let j = 0; j < 32; j++) out[blk * 32 + j] = fr(d * i8(b[o + 2 + j]));
      }
      break;
    case GGML.Q4_0:
      for (let blk = 0, o = 0; blk < K / 32; blk++, o += 18) {
        const d = f16At(b, o);
        for (let j = 0; j < 16; j++) {
          const q = b[o + 2 + j];
          out[blk * 32 + j] = fr(d * ((q & 15) - 8));
          out[blk * 32 + j + 16] = fr(d * ((q >> 4) - 8));
        }
      }
      break;
    case GGML.Q4_1:
      for (let blk = 0, o = 0; blk < K / 32; blk++, o += 20) {
        const d = f16At(b, o);
        const m = f16At(b, o + 2);
        for (let j = 0; j < 16; j++) {
          const q = b[o + 4 + j];
          out[blk * 32 + j] = fr(fr(d * (q & 15)) + m);
          out[blk * 32 + j + 16] = fr(fr(d * (q >> 4)) + m);
        }
      }
      break;
    case GGML.Q4_K:
      for (let blk = 0, o = 0; blk < K / 256; blk++, o += 144) {
        const d = f16At(b, o);
        const dmin = f16At(b, o + 2);
        const sc = (j: number): [number, number] => {
          const s = o + 4;
          if (j < 4) return [b[s + j] & 63, b[s + j + 4] & 63];
          return [(b[s + j + 4] & 15) | ((b[s + j - 4] >> 6) << 4), (b[s + j + 4] >> 4) | ((b[s + j] >> 6) << 4)];
        };
        let y = blk * 256;
        let q = o + 16;
        for (let chunk = 0; chunk < 4; chunk++) {
          const [sc1, m1] = sc(2 * chunk);
          const [sc2, m2] = sc(2 * chunk + 1);
          const d1 = fr(d * sc1), min1 = fr(dmin * m1);
          const d2 = fr(d * sc2), min2 = fr(dmin * m2);
          for (let l = 0; l < 32; l++) out[y + l] = fr(fr(d1 * (b[q + l] & 15)) - min1);
          for (let l = 0; l < 32; l++) out[y + 32 + l] = fr(fr(d2 * (b[q + l] >> 4)) - min2);
          y += 64;
          q += 32;
        }
      }
      break;
    case GGML.Q6_K:
      for (let blk = 0, o = 0; blk < K / 256; blk++, o += 210) {
        const d = f16At(b, o + 208);
        for (let half = 0; half < 2; half++) {
          const ql = o + 64 * half;
          const qh = o + 128 + 32 * half;
          const sc = o + 192 + 8 * half;
          const y = blk * 256 + 128 * half;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const h = b[qh + l];
            const q1 = ((b[ql + l] & 15) | ((h & 3) << 4)) - 32;
            const q2 = ((b[ql + l + 32] & 15) | (((h >> 2) & 3) << 4)) - 32;
            const q3 = ((b[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
            const q4 = ((b[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
            out[y + l] = fr(fr(d * i8(b[sc + is])) * q1);
            out[y + l + 32] = fr(fr(d * i8(b[sc + is + 2])) * q2);
            out[y + l + 64] = fr(fr(d * i8(b[sc + is + 4])) * q3);
            out[y + l + 96] = fr(fr(d * i8(b[sc + is + 6])) * q4);
          }
        }
      }
      break;
    default:
      fail("E_UNSUPPORTED", `dequantRowRef: type ${type} is not supported`);
  }
  return out;
}

/** Rows [r0, r1) of a [N, K] matrix of `type` (bytes: the whole matrix) as f32 [r1 - r0, K]. */
export function dequantRowsRef(type: number, bytes: Uint8Array, K: number, r0: number, r1: number): Float32Array {
  const rb = rowBytes(type, K);
  const out = new Float32Array((r1 - r0) * K);
  for (let r = r0; r < r1; r++) out.set(dequantRowRef(type, bytes.subarray(r * rb, (r + 1) * rb), K), (r - r0) * K);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Kernels

/** The core's dot product: 4 lane sums (lane j: k = j mod 4, increasing k), then (s0 + s1) + (s2 + s3). */
export function dotRef(x: ArrayLike<number>, xo: number, w: ArrayLike<number>, wo: number, K: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (let k = 0; k < K; k += 4) {
    s0 = fr(s0 + fr(x[xo + k] * w[wo + k]));
    s1 = fr(s1 + fr(x[xo + k + 1] * w[wo + k + 1]));
    s2 = fr(s2 + fr(x[xo + k + 2] * w[wo + k + 2]));
    s3 = fr(s3 + fr(x[xo + k + 3] * w[wo + k + 3]));
  }
  return fr(fr(s0 + s1) + fr(s2 + s3));
}

/** y[t*N + n] = dot(x[t, :], w[n, :]) for n in [n0, n1) (other entries of y stay 0). w: f32 [N, K]. */
export function matmulRef(x: Float32Array, w: Float32Array, T: number, K: number, N: number, n0 = 0, n1 = N): Float32Array {
  const y = new Float32Array(T * N);
  for (let t = 0; t < T; t++) for (let n = n0; n < n1; n++) y[t * N + n] = dotRef(x, t * K, w, n * K, K);
  return y;
}

/** out[t, :] = dequantised row ids[t] of table: type [V, D]. */
export function embedRef(type: number, table: Uint8Array, ids: ArrayLike<number>, D: number): Float32Array {
  const rb = rowBytes(type, D);
  const out = new Float32Array(ids.length * D);
  for (let t = 0; t < ids.length; t++) out.set(dequantRowRef(type, table.subarray(ids[t] * rb, (ids[t] + 1) * rb), D), t * D);
  return out;
}

/** y = (x * r) * w, r = 1 / sqrt(dot(x, x) / D + eps), per row of x: f32 [T, D]. */
export function rmsnormRef(x: Float32Array, w: Float32Array, T: number, D: number, eps: number): Float32Array {
  const y = new Float32Array(T * D);
  const e = fr(eps);
  for (let t = 0; t < T; t++) {
    const ss = dotRef(x, t * D, x, t * D, D);
    const r = fr(1 / fr(Math.sqrt(fr(fr(ss / D) + e))));
    for (let i = 0; i < D; i++) y[t * D + i] = fr(fr(x[t * D + i] * r) * w[i]);
  }
  return y;
}

/** cos, sin: f32 [T, headDim / 2] for positions pos. */
export function ropeTableRef(pos: ArrayLike<number>, headDim: number, base: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim >> 1;
  const cos = new Float32Array(pos.length * half);
  const sin = new Float32Array(pos.length * half);
  for (let t = 0; t < pos.length; t++) {
    const p = fr(pos[t]);
    for (let i = 0; i < half; i++) {
      const inv = fr(Math.pow(base, (-2 * i) / headDim));
      const a = fr(p * inv);
      cos[t * half + i] = fr(Math.cos(a));
      sin[t * half + i] = fr(Math.sin(a));
    }
  }
  return { cos, sin };
}

/** Rotate-half RoPE, in place, on heads [0, nHeads) of each row (rowStride in elements). */
export function ropeApplyRef(
  x: Float32Array, cos: Float32Array, sin: Float32Array, T: number, nHeads: number, headDim: number, rowStride: number,
  sign: 1 | -1 = 1, // -1: the transposed rotation (the backward); negating s is exact
): void {
  const half = headDim >> 1;
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) {
      const o = t * rowStride + h * headDim;
      for (let i = 0; i < half; i++) {
        const a = x[o + i], b = x[o + i + half];
        const c = cos[t * half + i], s = sign * sin[t * half + i];
        x[o + i] = fr(fr(a * c) - fr(b * s));
        x[o + i + half] = fr(fr(b * c) + fr(a * s));
      }
    }
  }
}

export function swigluRef(gate: Float32Array, up: Float32Array): Float32Array {
  const out = new Float32Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i];
    out[i] = fr(fr(g / fr(1 + expf(-g))) * up[i]);
  }
  return out;
}

export function addRef(x: Float32Array, y: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = fr(x[i] + y[i]);
  return out;
}

export function softmaxRef(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  if (x.length === 0) return out;
  let m = x[0];
  for (let i = 1; i < x.length; i++) if (x[i] > m) m = x[i];
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    out[i] = expf(fr(x[i] - m));
    sum = fr(sum + out[i]);
  }
  for (let i = 0; i < x.length; i++) out[i] = fr(out[i] / sum);
  return out;
}

export interface AttentionShape {
  T: number;
  nKeys: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  scale: number;
  h0?: number;
  h1?: number;
}

/**
 * Masked grouped-query attention (see kernels.ts). Returns out: f32 [T, nHeads * headDim]; heads outside
 * [h0, h1) are left 0.
 */
export function attentionRef(
  q: Float32Array, k: Float32Array, v: Float32Array, mask: Uint8Array, s: AttentionShape,
): Float32Array {
  const { T, nKeys, nHeads, nKvHeads, headDim } = s;
  const h0 = s.h0 ?? 0, h1 = s.h1 ?? nHeads;
  const scale = fr(s.scale);
  const group = Math.trunc(nHeads / nKvHeads);
  const qStride = nHeads * headDim, kvStride = nKvHeads * headDim;
  const out = new Float32Array(T * qStride);
  const scores = new Float32Array(nKeys);
  for (let t = 0; t < T; t++) {
    for (let h = h0; h < h1; h++) {
      const qo = t * qStride + h * headDim;
      const kvo = Math.trunc(h / group) * headDim;
      let max = -Infinity;
      let any = false;
      for (let j = 0; j < nKeys; j++) {
        if (!mask[t * nKeys + j]) continue;
        const sj = fr(dotRef(q, qo, k, j * kvStride + kvo, headDim) * scale);
        scores[j] = sj;
        if (!any || sj > max) max = sj;
        any = true;
      }
      if (!any) continue; // zeros
      let sum = 0;
      for (let j = 0; j < nKeys; j++) {
        if (!mask[t * nKeys + j]) continue;
        scores[j] = expf(fr(scores[j] - max));
        sum = fr(sum + scores[j]);
      }
      const o = new Float32Array(headDim);
      for (let j = 0; j < nKeys; j++) {
        if (!mask[t * nKeys + j]) continue;
        const p = scores[j];
        for (let i = 0; i < headDim; i++) o[i] = fr(o[i] + fr(p * v[j * kvStride + kvo + i]));
      }
      const inv = fr(1 / sum);
      for (let i = 0; i < headDim; i++) out[qo + i] = fr(o[i] * inv);
    }
  }
  return out;
}
