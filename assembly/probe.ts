// Machine probes for the roofline of `npm run bench:kernels` (not used by the model): how fast this CPU
// streams memory, and the SIMD peak of the inner-loop operations the matmul kernels are built from.
import { madd } from "./dot";

/** Reads [p, p + bytes) once, 64 bytes per step (bytes a multiple of 64); returns a checksum. */
export function probeRead(p: usize, bytes: usize): i32 {
  let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  const end = p + bytes;
  while (p < end) {
    a0 = v128.xor(a0, v128.load(p));
    a1 = v128.xor(a1, v128.load(p, 16));
    a2 = v128.xor(a2, v128.load(p, 32));
    a3 = v128.xor(a3, v128.load(p, 48));
    p += 64;
  }
  return i32x4.extract_lane(v128.xor(v128.xor(a0, a1), v128.xor(a2, a3)), 0);
}

export const PROBE_F32: i32 = 0;
export const PROBE_I16: i32 = 1;
export const PROBE_I8: i32 = 2;

/** Relaxed build: the int8 dot of q8.ts (pairs, then pairs of pairs against i16 1s held in a register). */
// @ts-ignore: decorator
@inline function dot7(x: v128, w: v128, acc: v128, ones: v128): v128 {
  return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(x, w), ones));
}

/**
 * probePeak(kind, p, n): n steps of a 2 x 4 register tile, the shape of the matmul kernels' tiles, on
 * operands in L1 (p: 1 KiB, 16-byte aligned, read cyclically), with no weight stream: the in-cache peak.
 *   PROBE_F32: 8 f32x4 multiply-adds per step (64 flops); the relaxed build fuses them.
 *   PROBE_I16: 8 i32x4.dot_i16x8_s + add per step (64 multiply-adds = 128 integer ops).
 *   PROBE_I8:  8 relaxed int8 dots per step (128 multiply-adds = 256 ops; 0 in the plain build).
 * Returns a checksum.
 */
export function probePeak(kind: i32, p: usize, n: i32): i32 {
  const c0 = v128.load(p, 64), c1 = v128.load(p, 80), c2 = v128.load(p, 96), c3 = v128.load(p, 112);
  let a00 = i32x4.splat(0), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
  let q: usize = 0;
  if (kind == PROBE_F32) {
    for (let i = 0; i < n; i++) {
      const xa = v128.load(p + q), xb = v128.load(p + q, 16);
      a00 = madd(xa, c0, a00); a10 = madd(xb, c0, a10);
      a01 = madd(xa, c1, a01); a11 = madd(xb, c1, a11);
      a02 = madd(xa, c2, a02); a12 = madd(xb, c2, a12);
      a03 = madd(xa, c3, a03); a13 = madd(xb, c3, a13);
      q = (q + 32) & 1023;
    }
  } else if (kind == PROBE_I16) {
    for (let i = 0; i < n; i++) {
      const xa = v128.load(p + q), xb = v128.load(p + q, 16);
      a00 = i32x4.add(a00, i32x4.dot_i16x8_s(xa, c0)); a10 = i32x4.add(a10, i32x4.dot_i16x8_s(xb, c0));
      a01 = i32x4.add(a01, i32x4.dot_i16x8_s(xa, c1)); a11 = i32x4.add(a11, i32x4.dot_i16x8_s(xb, c1));
      a02 = i32x4.add(a02, i32x4.dot_i16x8_s(xa, c2)); a12 = i32x4.add(a12, i32x4.dot_i16x8_s(xb, c2));
      a03 = i32x4.add(a03, i32x4.dot_i16x8_s(xa, c3)); a13 = i32x4.add(a13, i32x4.dot_i16x8_s(xb, c3));
      q = (q + 32) & 1023;
    }
  } else if (ASC_FEATURE_RELAXED_SIMD) {
    // (A constant condition on its own, so the plain build never compiles the relaxed instructions.)
    const ones = i16x8.splat(<i16>(1 | (n >>> 31)));
    for (let i = 0; i < (kind == PROBE_I8 ? n : 0); i++) {
      const xa = v128.load(p + q), xb = v128.load(p + q, 16);
      a00 = dot7(xa, c0, a00, ones); a10 = dot7(xb, c0, a10, ones);
      a01 = dot7(xa, c1, a01, ones); a11 = dot7(xb, c1, a11, ones);
      a02 = dot7(xa, c2, a02, ones); a12 = dot7(xb, c2, a12, ones);
      a03 = dot7(xa, c3, a03, ones); a13 = dot7(xb, c3, a13, ones);
      q = (q + 32) & 1023;
    }
  }
  const r = v128.xor(v128.xor(v128.xor(a00, a01), v128.xor(a02, a03)), v128.xor(v128.xor(a10, a11), v128.xor(a12, a13)));
  return i32x4.extract_lane(r, 0);
}
