export function heapBase(): usize { return __heap_base; }
export function relaxed(): bool { return ASC_FEATURE_RELAXED_SIMD; }
export function dot4(x: usize, w: usize, k: i32): f32 {
  let acc = f32x4.splat(0);
  for (let i = 0; i < k; i += 4) {
    const a = v128.load(x + (<usize>i << 2));
    const b = v128.load(w + (<usize>i << 2));
    if (ASC_FEATURE_RELAXED_SIMD) acc = f32x4.relaxed_madd(a, b, acc);
    else acc = f32x4.add(acc, f32x4.mul(a, b));
  }
  return (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
}
