// The one dot-product accumulation of the core (spec/kernels.md, "Reductions"): four lane sums, lane j
// holding k = j mod 4 in increasing k, combined as (s0 + s1) + (s2 + s3) only at the end.

/**
 * acc + a * b per lane. The plain build rounds the product, then adds (so it matches the TypeScript
 * reference bit for bit); the relaxed build uses relaxed_madd, which fuses where the CPU can (faster, and
 * deterministic on one machine, but not equal to the plain build). Used for dot accumulations only.
 */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** (s0 + s1) + (s2 + s3): the fixed horizontal sum that ends every dot product. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** dot(x[0..K), w[0..K)) of two f32 vectors; K a multiple of 4. */
export function dot(x: usize, w: usize, K: i32): f32 {
  let acc = f32x4.splat(0);
  const end = x + (<usize>K << 2);
  while (x < end) {
    acc = madd(v128.load(x), v128.load(w), acc);
    x += 16;
    w += 16;
  }
  return hsum(acc);
}
