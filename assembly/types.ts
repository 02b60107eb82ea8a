// GGML tensor type ids (spec/kernels.md, "Formats") and the byte geometry of each format.
// Block layouts are llama.cpp's, little endian:
//   Q8_0  (32 elems, 34 B):  f16 d | i8 qs[32]
//   Q4_0  (32 elems, 18 B):  f16 d | u8 qs[16]           elem j = qs[j] & 15, elem j+16 = qs[j] >> 4
//   Q4_1  (32 elems, 20 B):  f16 d | f16 m | u8 qs[16]   same nibble order as Q4_0
//   Q4_K (256 elems, 144 B): f16 d | f16 dmin | u8 scales[12] | u8 qs[128]
//   Q6_K (256 elems, 210 B): u8 ql[128] | u8 qh[64] | i8 scales[16] | f16 d

export const F32: i32 = 0;
export const F16: i32 = 1;
export const Q4_0: i32 = 2;
export const Q4_1: i32 = 3;
export const Q8_0: i32 = 8;
export const Q4_K: i32 = 12;
export const Q6_K: i32 = 14;
export const BF16: i32 = 30;

/** Elements per storage block (the unit rowBytes counts in). */
// @ts-ignore: decorator
@inline export function blockElems(type: i32): i32 {
  if (type == Q4_K || type == Q6_K) return 256;
  if (type == Q8_0 || type == Q4_0 || type == Q4_1) return 32;
  return 1;
}

/** Bytes per storage block. */
// @ts-ignore: decorator
@inline export function blockBytes(type: i32): i32 {
  if (type == F32) return 4;
  if (type == F16 || type == BF16) return 2;
  if (type == Q8_0) return 34;
  if (type == Q4_0) return 18;
  if (type == Q4_1) return 20;
  if (type == Q4_K) return 144;
  if (type == Q6_K) return 210;
  return 0;
}

/** Bytes of one row of K elements (K a whole number of blocks; the caller checks). */
// @ts-ignore: decorator
@inline export function rowBytes(type: i32, K: i32): usize {
  return <usize>(K / blockElems(type)) * <usize>blockBytes(type);
}
