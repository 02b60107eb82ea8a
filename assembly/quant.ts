// In-register dequantisation, 4 consecutive elements (one f32x4 "group") at a time.
//
// Every format is seen through one shape so matmul and dequantRows share the exact same code:
// a row is a sequence of "parameter blocks" of paramElems(type) elements that share a scale `a` and an
// offset `b` (scalars, computed once per block), each made of paramElems/4 groups. For unquantised types
// a parameter block is a single group with no parameters. The values are computed with f32 operations in
// the order of spec/kernels.md (never fused, also in the relaxed build), lane j holding element 4g + j.
import { F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K, blockBytes, rowBytes } from "./types";
import { f16x4ToF32x4, loadF16 } from "./f16";

/** Elements sharing one (a, b) pair: 4 (one group) for F32/F16/BF16, 32 for Q8_0/Q4_0/Q4_1, a Q4_K
 * sub-block of 32, a Q6_K sub-block of 16. */
// @ts-ignore: decorator
@inline export function paramElems(type: i32): i32 {
  if (type == Q6_K) return 16;
  if (type == Q8_0 || type == Q4_0 || type == Q4_1 || type == Q4_K) return 32;
  return 4;
}

/** Parameter blocks per storage block (Q4_K: 8 sub-blocks of a 256 super-block, Q6_K: 16). */
// @ts-ignore: decorator
@inline function subsPerBlock(type: i32): i32 {
  if (type == Q4_K) return 8;
  if (type == Q6_K) return 16;
  return 1;
}

/** Start of the storage block holding parameter block b of the row at `row`. */
// @ts-ignore: decorator
@inline function blockPtr(type: i32, row: usize, b: i32): usize {
  return row + <usize>(b / subsPerBlock(type)) * <usize>blockBytes(type);
}

/** Q4_K's 6-bit scale (which = 0) or min (which = 1) of sub-block j in the 12 packed scale bytes at s. */
// @ts-ignore: decorator
@inline function q4kScale(s: usize, j: i32, which: i32): u32 {
  if (j < 4) return <u32>load<u8>(s + j + (which << 2)) & 63;
  const lo = <u32>load<u8>(s + j + 4);
  const hi = <u32>load<u8>(s + j - (which == 0 ? 4 : 0)) >> 6;
  return (which == 0 ? lo & 15 : lo >> 4) | (hi << 4);
}

/** Scale `a` of parameter block b (0 where unused). Q4_K: f32(d * sc); Q6_K: f32(d * sc). */
// @ts-ignore: decorator
@inline export function scaleA(type: i32, row: usize, b: i32): f32 {
  const p = blockPtr(type, row, b);
  if (type == Q8_0 || type == Q4_0 || type == Q4_1) return loadF16(p);
  if (type == Q4_K) return loadF16(p) * <f32>q4kScale(p + 4, b & 7, 0);
  if (type == Q6_K) return loadF16(p + 208) * <f32>load<i8>(p + 192 + (b & 15));
  return 0;
}

/** Offset `b` of parameter block b (0 where unused). Q4_1: m; Q4_K: f32(dmin * mn), subtracted. */
// @ts-ignore: decorator
@inline export function scaleB(type: i32, row: usize, b: i32): f32 {
  const p = blockPtr(type, row, b);
  if (type == Q4_1) return loadF16(p + 2);
  if (type == Q4_K) return loadF16(p + 2) * <f32>q4kScale(p + 4, b & 7, 1);
  return 0;
}

/** Four bytes at p, zero-extended into the four i32 lanes. */
// @ts-ignore: decorator
@inline function bytesU32x4(p: usize): v128 {
  return i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p)));
}

/**
 * Elements 4g .. 4g+3 of parameter block b of the row at `row` as f32x4, given that block's splatted
 * scale `a` and offset `o` (from scaleA / scaleB).
 */
// @ts-ignore: decorator
@inline export function group(type: i32, row: usize, b: i32, g: i32, a: v128, o: v128): v128 {
  if (type == F32) return v128.load(row + (<usize>b << 4));
  if (type == F16) return f16x4ToF32x4(v128.load16x4_u(row + (<usize>b << 3)));
  if (type == BF16) return i32x4.shl(v128.load16x4_u(row + (<usize>b << 3)), 16);
  const p = blockPtr(type, row, b);
  if (type == Q8_0) {
    // d * q
    const q = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p + 2 + (g << 2))));
    return f32x4.mul(a, f32x4.convert_i32x4_s(q));
  }
  if (type == Q4_0 || type == Q4_1) {
    // Groups 0-3 are the low nibbles of qs[0..16), groups 4-7 the high nibbles.
    const qs = p + (type == Q4_0 ? 2 : 4) + ((g & 3) << 2);
    const q = v128.and(i32x4.shr_u(bytesU32x4(qs), (g >> 2) << 2), i32x4.splat(15));
    if (type == Q4_0) return f32x4.mul(a, f32x4.convert_i32x4_s(i32x4.sub(q, i32x4.splat(8)))); // d * (q - 8)
    return f32x4.add(f32x4.mul(a, f32x4.convert_i32x4_s(q)), o); // d * q + m
  }
  if (type == Q4_K) {
    // Sub-block j uses bytes qs[32*(j>>1) ..+32): low nibbles for even j, high nibbles for odd j.
    const j = b & 7;
    const qs = p + 16 + ((j >> 1) << 5) + (g << 2);
    const q = v128.and(i32x4.shr_u(bytesU32x4(qs), (j & 1) << 2), i32x4.splat(15));
    return f32x4.sub(f32x4.mul(a, f32x4.convert_i32x4_s(q)), o); // (d*sc) * q - (dmin*mn)
  }
  if (type == Q6_K) {
    // Sub-block s (16 elements) = element e = 16s in the super-block: half h = s>>3 (128 elements each),
    // quarter qq = (s>>1)&3 (32 elements each), l = 16*(s&1) + 4g the position in the quarter.
    // Low 4 bits: ql[64h + 32*(qq&1) + l] >> 4*(qq>>1); high 2 bits: qh[32h + l] >> 2*qq.
    const s = b & 15;
    const h = s >> 3;
    const qq = (s >> 1) & 3;
    const l = ((s & 1) << 4) + (g << 2);
    const lo = v128.and(i32x4.shr_u(bytesU32x4(p + (h << 6) + ((qq & 1) << 5) + l), (qq >> 1) << 2), i32x4.splat(15));
    const hi = v128.and(i32x4.shr_u(bytesU32x4(p + 128 + (h << 5) + l), qq << 1), i32x4.splat(3));
    const q = i32x4.sub(v128.or(lo, i32x4.shl(hi, 4)), i32x4.splat(32));
    return f32x4.mul(a, f32x4.convert_i32x4_s(q)); // (d*sc) * (q - 32)
  }
  return f32x4.splat(0);
}

/** Rows [r0, r1) of W (rows of K elements of `type`) as f32 out[(r - r0) * K + k]. */
// @ts-ignore: decorator
@inline function dequantRowsTyped(type: i32, w: usize, out: usize, K: i32, r0: i32, r1: i32): void {
  const rb = rowBytes(type, K);
  const G = <u32>paramElems(type) >> 2;
  const nGroups = <u32>K >> 2;
  for (let r = r0; r < r1; r++) {
    const row = w + <usize>r * rb;
    let a = f32x4.splat(0), o = a;
    for (let i: u32 = 0; i < nGroups; i++) {
      const b = <i32>(i / G);
      const g = <i32>(i % G);
      if (g == 0) {
        a = f32x4.splat(scaleA(type, row, b));
        o = f32x4.splat(scaleB(type, row, b));
      }
      v128.store(out, group(type, row, b, g, a, o));
      out += 16;
    }
  }
}

function dequantF32(w: usize, out: usize, K: i32, r0: i32, r1: i32): void { dequantRowsTyped(F32, w, out, K, r0, r1); }
function dequantF16(w: usize, out: usize, K: i32, r0: i32, r1: i32): void { dequantRowsTyped(F16, w, out, K, r0, r1); }
function dequantBF16(w: usize, out: usize, K: i32, r0: i32, r1: i32): void { dequantRowsTyped(BF16, w, out, K, r0, r1); }
function dequantQ8_0(w: usize, out: usize, K: i32, r0: i32, r1: i32): void { dequantRowsTyped(Q8_0, w, out, K, r0, r1); }
function dequantQ4_0(w: usize, out: usize, K: i32, r0: i32, r1: i32): void { dequantRowsTyped(Q4_0, w, out, K, r0, r1); }
function dequantQ4_1(w: usize, out: usize, K: i32, r0: i32, r1: i32): void { dequantRowsTyped(Q4_1, w, out, K, r0, r1); }
function dequantQ4_K(w: usize, out: usize, K: i32, r0: i32, r1: i32): void { dequantRowsTyped(Q4_K, w, out, K, r0, r1); }
function dequantQ6_K(w: usize, out: usize, K: i32, r0: i32, r1: i32): void { dequantRowsTyped(Q6_K, w, out, K, r0, r1); }

/**
 * dequantRows(type, w, out, K, r0, r1): rows [r0, r1) of W: `type` [N, K] at w, to f32 out [r1 - r0, K]
 * (16-byte aligned). K is a multiple of 4 and of the format's block; an unknown type writes nothing.
 */
export function dequantRows(type: i32, w: usize, out: usize, K: i32, r0: i32, r1: i32): void {
  switch (type) {
    case F32: dequantF32(w, out, K, r0, r1); break;
    case F16: dequantF16(w, out, K, r0, r1); break;
    case BF16: dequantBF16(w, out, K, r0, r1); break;
    case Q8_0: dequantQ8_0(w, out, K, r0, r1); break;
    case Q4_0: dequantQ4_0(w, out, K, r0, r1); break;
    case Q4_1: dequantQ4_1(w, out, K, r0, r1); break;
    case Q4_K: dequantQ4_K(w, out, K, r0, r1); break;
    case Q6_K: dequantQ6_K(w, out, K, r0, r1); break;
    default: break;
  }
}
