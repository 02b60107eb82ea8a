// IEEE binary16 -> binary32, exact for every input (normals, subnormals, +-0, +-inf, NaN payloads).
//
// The magnitude bits shifted left by 13 line up the half's exponent and mantissa with an f32's; read as
// an f32 that is the value times 2^-112 (for a half subnormal, an f32 subnormal), so one multiplication by
// 2^112 (exact: no rounding can occur, the result has at most 11 significant bits) rebiases it. Inf/NaN
// (exponent 31) instead get the f32 all-ones exponent with the payload kept. The sign is OR-ed in last.
// Wasm never flushes subnormals, so this is the same on every machine.

// @ts-ignore: decorator
@inline const TWO_112: f32 = reinterpret<f32>(0x77800000); // 2^112

/** One half (low 16 bits of h) to f32. */
// @ts-ignore: decorator
@inline export function f16ToF32(h: u32): f32 {
  const em = h & 0x7fff;
  const sign = (h & 0x8000) << 16;
  const finite = reinterpret<u32>(reinterpret<f32>(em << 13) * TWO_112);
  const special = (em << 13) | 0x7f800000;
  return reinterpret<f32>(sign | (em >= 0x7c00 ? special : finite));
}

/** Four halves, each in the low 16 bits of an i32 lane (zero-extended), to f32x4. */
// @ts-ignore: decorator
@inline export function f16x4ToF32x4(h: v128): v128 {
  const em = v128.and(h, i32x4.splat(0x7fff));
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const shifted = i32x4.shl(em, 13);
  const finite = f32x4.mul(shifted, f32x4.splat(TWO_112));
  const special = v128.or(shifted, i32x4.splat(0x7f800000));
  const isSpecial = i32x4.gt_s(em, i32x4.splat(0x7bff));
  return v128.or(sign, v128.bitselect(special, finite, isSpecial));
}

/** f16 stored at p (2 bytes, any alignment) to f32. */
// @ts-ignore: decorator
@inline export function loadF16(p: usize): f32 {
  return f16ToF32(<u32>load<u16>(p));
}
