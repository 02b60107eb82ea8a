/**
 * Plain TypeScript reference of the packed weight layouts (spec/kernels.md, "Packed layouts"): the byte
 * image packRows writes, the activation rows quantizeRows writes, and the PANEL.Q8 matmul formula. f32
 * steps use Math.fround after every operation, as in reference.ts.
 *
 * `relaxed` selects the relaxed build's variant of PANEL.Q8 (7-bit weight codes stored + 64); the f32 and
 * bf16 panels are the same in both builds.
 */
import { fail } from "../errors.js";
import { GGML, PANEL, packedBytes, q8RowBytes, rowBytes, type PanelLayout } from "./kernels.js";
import { f32Bits, f32FromBits } from "./reference.js";
import { f16ToF32 } from "../gguf/half.js";

const fr = Math.fround;
const TINY = 2 ** -32;

/** f32 -> bf16 bits, round to nearest even; NaN stays NaN (quiet bit set, sign kept). */
export function bf16Bits(x: number): number {
  const u = f32Bits(x);
  if ((u & 0x7fffffff) >>> 0 > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The f32 value of bf16 bits (exact). */
export function bf16Value(bits: number): number {
  return f32FromBits((bits << 16) >>> 0);
}

/** wasm's f32.nearest: round half to even. */
function nearest(v: number): number {
  if (!Number.isFinite(v)) return v;
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** wasm's i32.trunc_sat_f32_s for an integral (or NaN / infinite) value. */
function truncSat(v: number): number {
  if (Number.isNaN(v)) return 0;
  return Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(v)));
}

/**
 * One block of 32 values quantised with largest code Q: m = max |v|; m < 2^-32: zeros and scale 0;
 * else d = m / Q, id = 1 / d, q = clamp(trunc_sat(nearest(v * id)), -Q, Q).
 */
export function quantBlockRef(v: ArrayLike<number>, o: number, Q: number): { d: number; q: number[] } {
  let m = 0;
  for (let i = 0; i < 32; i++) {
    const a = Math.abs(v[o + i]);
    if (Number.isNaN(a) || Number.isNaN(m)) m = NaN;
    else if (a > m) m = a;
  }
  if (m < TINY) return { d: 0, q: new Array<number>(32).fill(0) };
  const d = fr(m / Q);
  const id = fr(1 / d);
  const q: number[] = [];
  for (let i = 0; i < 32; i++) q.push(Math.max(-Q, Math.min(Q, truncSat(nearest(fr(v[o + i] * id))))));
  return { d, q };
}

/** Weight codes (signed, before the relaxed build's + 64) and scales of W: f32 [N, K] for PANEL.Q8. */
export function q8WeightsRef(w: Float32Array, K: number, N: number, relaxed: boolean): { codes: Int32Array; scales: Float32Array } {
  const nb = K / 32;
  const codes = new Int32Array(N * K);
  const scales = new Float32Array(N * nb);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nb; b++) {
      const { d, q } = quantBlockRef(w, n * K + b * 32, relaxed ? 63 : 127);
      scales[n * nb + b] = d;
      codes.set(q, n * K + b * 32);
    }
  }
  return { codes, scales };
}

/**
 * The bytes packRows(layout, F32, w, K, N, ...) writes, from W: f32 [N, K] (any source format is first
 * dequantised to f32 rows, so this covers every type).
 */
export function packRef(layout: PanelLayout, w: Float32Array, K: number, N: number, relaxed: boolean): Uint8Array {
  if (w.length !== N * K) fail("E_ARGS", `packRef: ${w.length} values for a [${N}, ${K}] matrix`);
  const out = new Uint8Array(packedBytes(layout, K, N));
  const dv = new DataView(out.buffer);
  const at = (n: number, k: number): number => (n < N ? w[n * K + k] : 0);
  const panels = Math.ceil(N / 4);
  if (layout === PANEL.F32) {
    for (let p = 0, o = 0; p < panels; p++) {
      for (let g = 0; g < K; g += 4) {
        for (let r = 0; r < 4; r++) for (let i = 0; i < 4; i++, o += 4) dv.setFloat32(o, at(4 * p + r, g + i), true);
      }
    }
    return out;
  }
  if (layout === PANEL.BF16) {
    // Groups of 4 k: rows 0 and 1 interleaved (k_j of row 0, then of row 1), then rows 2 and 3.
    for (let p = 0, o = 0; p < panels; p++) {
      for (let g = 0; g < K; g += 4) {
        for (const [a, b] of [[0, 1], [2, 3]]) {
          for (let j = 0; j < 4; j++, o += 4) {
            dv.setUint16(o, bf16Bits(at(4 * p + a, g + j)), true);
            dv.setUint16(o + 2, bf16Bits(at(4 * p + b, g + j)), true);
          }
        }
      }
    }
    return out;
  }
  const nb = K / 32;
  const padded = new Float32Array(panels * 4 * K);
  padded.set(w);
  const { codes, scales } = q8WeightsRef(padded, K, panels * 4, relaxed);
  for (let p = 0, o = 0; p < panels; p++) {
    for (let b = 0; b < nb; b++, o += 144) {
      for (let r = 0; r < 4; r++) dv.setFloat32(o + 4 * r, scales[(4 * p + r) * nb + b], true);
      for (let c = 0; c < 8; c++) {
        for (let r = 0; r < 4; r++) {
          const q = (i: number) => codes[(4 * p + r) * K + 32 * b + 4 * c + i];
          const base = o + 16 + 16 * c + 4 * r;
          if (relaxed) for (let i = 0; i < 4; i++) out[base + i] = q(i) + 64;
          else {
            dv.setInt8(base, q(0));
            dv.setInt8(base + 2, q(1));
            dv.setInt8(base + 1, q(2));
            dv.setInt8(base + 3, q(3));
          }
        }
      }
    }
  }
  return out;
}

export interface QuantizedRows {
  readonly codes: Int32Array; // [T, K]
  readonly scales: Float32Array; // [T, K / 32], the scale d of each block
  readonly sums: Float32Array; // [T, K / 32], f32(d * sum of the block's codes)
  readonly image: Uint8Array; // what quantizeRows writes: T rows of q8RowBytes(K) bytes
}

/** Activation rows x: f32 [T, K] quantised for PANEL.Q8 (Q = 127), with the byte image of the build. */
export function quantizeRowsRef(x: Float32Array, T: number, K: number, relaxed: boolean): QuantizedRows {
  const nb = K / 32;
  const S = q8RowBytes(K);
  const codes = new Int32Array(T * K);
  const scales = new Float32Array(T * nb);
  const sums = new Float32Array(T * nb);
  const image = new Uint8Array(T * S);
  const dv = new DataView(image.buffer);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < nb; b++) {
      const { d, q } = quantBlockRef(x, t * K + b * 32, 127);
      scales[t * nb + b] = d;
      codes.set(q, t * K + b * 32);
      const row = t * S;
      for (let i = 0; i < 32; i++) {
        if (relaxed) dv.setInt8(row + 32 * b + i, q[i]);
        else dv.setInt16(row + 2 * (32 * b + i), q[i], true);
      }
      // Plain: d * 2^-8 (the kernel's weight codes carry a factor 2^8); relaxed: d, and -64 * sum(q).
      // Both: the value sum d * sum(q) (PANEL.Q4's offsets multiply it).
      const sum = q.reduce((a, c) => a + c, 0);
      dv.setFloat32(row + 2 * K + 4 * b, relaxed ? d : fr(d * 2 ** -8), true);
      dv.setInt32(row + 2 * K + 4 * nb + 4 * b, relaxed ? -64 * sum : 0, true);
      dv.setFloat32(row + 2 * K + 8 * nb + 4 * b, fr(d * sum), true);
      sums[t * nb + b] = fr(d * sum);
    }
  }
  return { codes, scales, sums, image };
}

/**
 * The PANEL.Q8 result for rows n in [n0, n1) (others 0): per (t, n), acc = 0, then for each block b in
 * order acc = acc + f32(isum_b) * (dw[n, b] * dx[t, b]), isum_b the exact integer dot product of the codes.
 */
export function matmulQ8Ref(
  x: QuantizedRows, w: { codes: Int32Array; scales: Float32Array }, T: number, K: number, N: number, n0 = 0, n1 = N,
): Float32Array {
  const nb = K / 32;
  const y = new Float32Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = n0; n < n1; n++) {
      let acc = 0;
      for (let b = 0; b < nb; b++) {
        let isum = 0;
        for (let i = 0; i < 32; i++) isum += x.codes[t * K + 32 * b + i] * w.codes[n * K + 32 * b + i];
        acc = fr(acc + fr(fr(isum) * fr(w.scales[n * nb + b] * x.scales[t * nb + b])));
      }
      y[t * N + n] = acc;
    }
  }
  return y;
}

/** A 4-bit matrix as PANEL.Q4 sees it: w[n, k] = s[n, b] * q[n, k] + o[n, b], q in [0, 15], b = k / 32. */
export interface Q4Weights {
  readonly codes: Int32Array; // [N, K]
  readonly s: Float32Array; // [N, K / 32]
  readonly o: Float32Array; // [N, K / 32]
}

/** Q4_K's 6-bit scale (which 0) or min (which 1) of sub-block j from the 12 bytes at p (llama.cpp's order). */
function q4kSixBits(b: Uint8Array, p: number, j: number, which: number): number {
  if (j < 4) return b[p + j + 4 * which]! & 63;
  const lo = b[p + j + 4]!;
  const hi = b[p + j - (which === 0 ? 4 : 0)]! >> 6;
  return (which === 0 ? lo & 15 : lo >> 4) | (hi << 4);
}

/** Codes, scales and offsets of W: `type` [N, K] (Q4_0, Q4_1 or Q4_K rows, GGUF bytes). */
export function q4WeightsRef(type: number, bytes: Uint8Array, K: number, N: number): Q4Weights {
  const nb = K / 32;
  const rb = rowBytes(type, K);
  const codes = new Int32Array(N * K), s = new Float32Array(N * nb), o = new Float32Array(N * nb);
  const f16 = (p: number) => f16ToF32(bytes[p]! | (bytes[p + 1]! << 8));
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nb; b++) {
      const at = n * nb + b;
      if (type === GGML.Q4_K) {
        const p = n * rb + (b >> 3) * 144, j = b & 7;
        s[at] = fr(f16(p) * q4kSixBits(bytes, p + 4, j, 0));
        o[at] = -fr(f16(p + 2) * q4kSixBits(bytes, p + 4, j, 1));
        for (let i = 0; i < 32; i++) codes[n * K + 32 * b + i] = (bytes[p + 16 + 32 * (j >> 1) + i]! >> (4 * (j & 1))) & 15;
      } else if (type === GGML.Q4_0 || type === GGML.Q4_1) {
        const p = n * rb + b * (type === GGML.Q4_0 ? 18 : 20);
        const d = f16(p);
        s[at] = d;
        o[at] = type === GGML.Q4_0 ? fr(-8 * d) : f16(p + 2);
        const qs = p + (type === GGML.Q4_0 ? 2 : 4);
        for (let i = 0; i < 32; i++) codes[n * K + 32 * b + i] = (bytes[qs + (i & 15)]! >> (4 * (i >> 4))) & 15;
      } else {
        fail("E_UNSUPPORTED", `PANEL.Q4 holds Q4_0, Q4_1 or Q4_K, not type ${type}`);
      }
    }
  }
  return { codes, s, o };
}

/** The bytes packRows(PANEL.Q4, type, w, K, N, ...) writes (spec/kernels.md, "Packed layouts"). */
export function packQ4Ref(w: Q4Weights, K: number, N: number, relaxed: boolean): Uint8Array {
  const nb = K / 32;
  const out = new Uint8Array(packedBytes(PANEL.Q4, K, N));
  const dv = new DataView(out.buffer);
  const order = relaxed ? [0, 1, 2, 3] : [0, 2, 1, 3]; // byte of element i of a 4-k chunk, within a row's 4
  for (let p = 0, o = 0; p < Math.ceil(N / 4); p++) {
    for (let b = 0; b < nb; b++, o += 96) {
      for (let r = 0; r < 4; r++) {
        const n = 4 * p + r;
        if (n >= N) continue;
        dv.setFloat32(o + 4 * r, w.s[n * nb + b], true);
        dv.setFloat32(o + 16 + 4 * r, w.o[n * nb + b], true);
        for (let c = 0; c < 4; c++) {
          for (let i = 0; i < 4; i++) {
            const k = n * K + 32 * b + 8 * c + i;
            out[o + 32 + 16 * c + 4 * r + order[i]] = w.codes[k] | (w.codes[k + 4] << 4);
          }
        }
      }
    }
  }
  return out;
}

/**
 * The PANEL.Q4 result for rows n in [n0, n1) (others 0): per (t, n), acc = 0, then for each block b in
 * order acc = acc + f32(isum_b) * (s[n, b] * dx[t, b]); acc = acc + o[n, b] * xsum[t, b].
 */
export function matmulQ4Ref(x: QuantizedRows, w: Q4Weights, T: number, K: number, N: number, n0 = 0, n1 = N): Float32Array {
  const nb = K / 32;
  const y = new Float32Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = n0; n < n1; n++) {
      let acc = 0;
      for (let b = 0; b < nb; b++) {
        let isum = 0;
        for (let i = 0; i < 32; i++) isum += x.codes[t * K + 32 * b + i] * w.codes[n * K + 32 * b + i];
        acc = fr(acc + fr(fr(isum) * fr(w.s[n * nb + b] * x.scales[t * nb + b])));
        acc = fr(acc + fr(w.o[n * nb + b] * x.sums[t * nb + b]));
      }
      y[t * N + n] = acc;
    }
  }
  return y;
}
