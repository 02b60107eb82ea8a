/**
 * Quantisers, used to build test models: f32 values -> the bytes of a GGML type. Every operation is
 * rounded to f32 (Math.fround), as in llama.cpp's C reference code.
 */
import { fail } from "../errors.js";
import { f16ToF32, f32ToBF16, f32ToF16 } from "./half.js";
import { GGML, describeType } from "./types.js";

const fr = Math.fround;

function checkQuantInput(name: string, x: ArrayLike<number>, block: number): void {
  if (x.length % block !== 0) throw new RangeError(`${name}: ${x.length} values is not a multiple of ${block}`);
}

/** C roundf: halfway cases away from zero. */
function roundAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

/**
 * Encodes f32 values as `type`. Q8_0, Q4_0, Q4_1 and Q5_0 follow llama.cpp's reference quantisers
 * bit for bit, F16 / BF16 round to nearest even; Q4_K and Q6_K use a simple one-pass quantiser (not
 * llama.cpp's iterative search) that produces valid blocks with small error: good for test models.
 */
export function quantize(type: number, values: ArrayLike<number>): Uint8Array {
  switch (type) {
    case GGML.F32: {
      const f = Float32Array.from(values);
      return new Uint8Array(f.buffer);
    }
    case GGML.F16: {
      const o = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) o[i] = f32ToF16(values[i]!);
      return new Uint8Array(o.buffer);
    }
    case GGML.BF16: {
      const o = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) o[i] = f32ToBF16(values[i]!);
      return new Uint8Array(o.buffer);
    }
    case GGML.Q8_0:
      return quantizeQ8_0(values);
    case GGML.Q4_0:
      return quantizeQ4_0(values);
    case GGML.Q4_1:
      return quantizeQ4_1(values);
    case GGML.Q5_0:
      return quantizeQ5_0(values);
    case GGML.Q4_K:
      return quantizeQ4_K(values);
    case GGML.Q6_K:
      return quantizeQ6_K(values);
    default:
      return fail("E_UNSUPPORTED", `quantize: type ${describeType(type)} is not supported`);
  }
}

/** llama.cpp's reference Q8_0 quantiser (quantize_row_q8_0_ref): d = amax / 127, q = roundf(x / d). */
export function quantizeQ8_0(x: ArrayLike<number>): Uint8Array {
  checkQuantInput("quantizeQ8_0", x, 32);
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 34);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(fr(x[32 * i + j]!)));
    const d = fr(amax / 127);
    const id = d !== 0 ? fr(1 / d) : 0;
    dv.setUint16(34 * i, f32ToF16(d), true);
    for (let j = 0; j < 32; j++) out[34 * i + 2 + j] = roundAway(fr(fr(x[32 * i + j]!) * id)) & 0xff;
  }
  return out;
}

/** The block's value of largest magnitude, with its sign (the first one on ties), as llama.cpp picks it. */
function signedAbsMax(x: ArrayLike<number>, from: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < n; j++) {
    const v = fr(x[from + j]!);
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

/** llama.cpp's reference Q4_0 quantiser: d = max / -8, q = min(15, trunc(x / d + 8.5)). */
export function quantizeQ4_0(x: ArrayLike<number>): Uint8Array {
  checkQuantInput("quantizeQ4_0", x, 32);
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 18);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    const d = fr(signedAbsMax(x, 32 * i, 32) / -8);
    const id = d !== 0 ? fr(1 / d) : 0;
    dv.setUint16(18 * i, f32ToF16(d), true);
    const q = (j: number) => Math.min(15, Math.trunc(fr(fr(fr(x[32 * i + j]!) * id) + 8.5)));
    for (let j = 0; j < 16; j++) out[18 * i + 2 + j] = q(j) | (q(j + 16) << 4);
  }
  return out;
}

/**
 * llama.cpp's reference Q4_1 quantiser (quantize_row_q4_1_ref): d = (max - min) / 15, m = min,
 * q = min(15, trunc((x - min) / d + 0.5)).
 */
export function quantizeQ4_1(x: ArrayLike<number>): Uint8Array {
  checkQuantInput("quantizeQ4_1", x, 32);
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 20);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    let min = Infinity;
    let max = -Infinity;
    for (let j = 0; j < 32; j++) {
      const v = fr(x[32 * i + j]!);
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const d = fr(fr(max - min) / 15);
    const id = d !== 0 ? fr(1 / d) : 0;
    dv.setUint16(20 * i, f32ToF16(d), true);
    dv.setUint16(20 * i + 2, f32ToF16(min), true);
    const q = (j: number) => Math.min(15, Math.trunc(fr(fr(fr(fr(x[32 * i + j]!) - min) * id) + 0.5)));
    for (let j = 0; j < 16; j++) out[20 * i + 4 + j] = q(j) | (q(j + 16) << 4);
  }
  return out;
}

/**
 * llama.cpp's reference Q5_0 quantiser: d = max / -16, q = min(31, trunc(x / d + 16.5)). Block:
 * d: f16, qh: u32 (bit j = bit 4 of element j), qs: u8[16] (low nibbles as Q4_0). Q5_0 is not a
 * supported compute type; this exists so tests can build files that use it.
 */
export function quantizeQ5_0(x: ArrayLike<number>): Uint8Array {
  checkQuantInput("quantizeQ5_0", x, 32);
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 22);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    const d = fr(signedAbsMax(x, 32 * i, 32) / -16);
    const id = d !== 0 ? fr(1 / d) : 0;
    dv.setUint16(22 * i, f32ToF16(d), true);
    const q = (j: number) => Math.min(31, Math.trunc(fr(fr(fr(x[32 * i + j]!) * id) + 16.5)));
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const a = q(j);
      const b = q(j + 16);
      out[22 * i + 6 + j] = (a & 0xf) | ((b & 0xf) << 4);
      qh |= ((a >>> 4) << j) | ((b >>> 4) << (j + 16));
    }
    dv.setUint32(22 * i + 2, qh >>> 0, true);
  }
  return out;
}

/** Q4_K by a simple one-pass quantiser: per 32-element sub-block, min clamped to <= 0 and a 6-bit scale. */
export function quantizeQ4_K(x: ArrayLike<number>): Uint8Array {
  checkQuantInput("quantizeQ4_K", x, 256);
  const nb = x.length / 256;
  const out = new Uint8Array(nb * 144);
  const dv = new DataView(out.buffer);
  const scale = new Float64Array(8);
  const negMin = new Float64Array(8);
  const sc = new Uint8Array(8);
  const mn = new Uint8Array(8);
  for (let i = 0; i < nb; i++) {
    const base = 256 * i;
    for (let j = 0; j < 8; j++) {
      let lo = 0;
      let hi = -Infinity;
      for (let l = 0; l < 32; l++) {
        const v = fr(x[base + 32 * j + l]!);
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      scale[j] = (hi - lo) / 15;
      negMin[j] = -lo;
    }
    const d = f16ToF32(f32ToF16(Math.max(...scale) / 63));
    const dmin = f16ToF32(f32ToF16(Math.max(...negMin) / 63));
    for (let j = 0; j < 8; j++) {
      sc[j] = d > 0 ? Math.min(63, Math.round(scale[j]! / d)) : 0;
      mn[j] = dmin > 0 ? Math.min(63, Math.round(negMin[j]! / dmin)) : 0;
    }
    const p = 144 * i;
    dv.setUint16(p, f32ToF16(d), true);
    dv.setUint16(p + 2, f32ToF16(dmin), true);
    for (let j = 0; j < 4; j++) {
      out[p + 4 + j] = (sc[j]! & 63) | ((sc[j + 4]! >>> 4) << 6);
      out[p + 8 + j] = (mn[j]! & 63) | ((mn[j + 4]! >>> 4) << 6);
      out[p + 12 + j] = (sc[j + 4]! & 0xf) | ((mn[j + 4]! & 0xf) << 4);
    }
    const q = (e: number): number => {
      const j = e >>> 5;
      const D = fr(d * sc[j]!);
      if (D === 0) return 0;
      const M = fr(dmin * mn[j]!);
      return Math.max(0, Math.min(15, Math.round((fr(x[base + e]!) + M) / D)));
    };
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) out[p + 16 + 32 * c + l] = q(64 * c + l) | (q(64 * c + 32 + l) << 4);
    }
  }
  return out;
}

/** Q6_K by a simple one-pass quantiser: per 16-element sub-block an int8 scale, 6-bit values. */
export function quantizeQ6_K(x: ArrayLike<number>): Uint8Array {
  checkQuantInput("quantizeQ6_K", x, 256);
  const nb = x.length / 256;
  const out = new Uint8Array(nb * 210);
  const dv = new DataView(out.buffer);
  const sub = new Float64Array(16);
  const sc = new Int8Array(16);
  const q = new Uint8Array(256);
  for (let i = 0; i < nb; i++) {
    const base = 256 * i;
    let maxAbs = 0;
    for (let j = 0; j < 16; j++) {
      sub[j] = signedAbsMax(x, base + 16 * j, 16) / -32;
      maxAbs = Math.max(maxAbs, Math.abs(sub[j]!));
    }
    const d = f16ToF32(f32ToF16(maxAbs / 127));
    for (let j = 0; j < 16; j++) sc[j] = d > 0 ? Math.max(-128, Math.min(127, Math.round(sub[j]! / d))) : 0;
    for (let e = 0; e < 256; e++) {
      const D = fr(d * sc[e >>> 4]!);
      q[e] = D === 0 ? 32 : Math.max(0, Math.min(63, Math.round(fr(x[base + e]!) / D) + 32));
    }
    const p = 210 * i;
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const q1 = q[128 * h + l]!;
        const q2 = q[128 * h + 32 + l]!;
        const q3 = q[128 * h + 64 + l]!;
        const q4 = q[128 * h + 96 + l]!;
        out[p + 64 * h + l] = (q1 & 0xf) | ((q3 & 0xf) << 4);
        out[p + 64 * h + 32 + l] = (q2 & 0xf) | ((q4 & 0xf) << 4);
        out[p + 128 + 32 * h + l] = (q1 >>> 4) | ((q2 >>> 4) << 2) | ((q3 >>> 4) << 4) | ((q4 >>> 4) << 6);
      }
    }
    for (let j = 0; j < 16; j++) out[p + 192 + j] = sc[j]! & 0xff;
    dv.setUint16(p + 208, f32ToF16(d), true);
  }
  return out;
}
