// Optimizer kernels. Element-wise f32 operations, never fused (also in the relaxed build), so both builds
// and the TypeScript reference agree bit for bit.

/**
 * adamw(p, g, m, v, n, beta1, omb1, beta2, omb2, eps, decay, stepSize, sqrtBc2, clip): one AdamW update of
 * f32 [n] parameters p with gradients g and moments m, v (all in place except g). Per element:
 *   gc = g * clip
 *   m  = beta1 * m + omb1 * gc                 (omb1 = 1 - beta1, rounded to f32 by the caller)
 *   v  = beta2 * v + omb2 * (gc * gc)
 *   p  = p * decay                             (decay = 1 - lr * weightDecay: decoupled weight decay)
 *   p  = p - stepSize * (m / (sqrt(v) / sqrtBc2 + eps))   (stepSize = lr / (1 - beta1^s), sqrtBc2 = sqrt(1 - beta2^s))
 */
export function adamw(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  beta1: f32, omb1: f32, beta2: f32, omb2: f32, eps: f32, decay: f32, stepSize: f32, sqrtBc2: f32, clip: f32,
): void {
  const end = <usize>n << 2;
  const vecEnd = end & ~15;
  const B1 = f32x4.splat(beta1), O1 = f32x4.splat(omb1), B2 = f32x4.splat(beta2), O2 = f32x4.splat(omb2);
  const E = f32x4.splat(eps), DEC = f32x4.splat(decay), S = f32x4.splat(stepSize), BC = f32x4.splat(sqrtBc2);
  const C = f32x4.splat(clip);
  let i: usize = 0;
  for (; i < vecEnd; i += 16) {
    const gc = f32x4.mul(v128.load(g + i), C);
    const mi = f32x4.add(f32x4.mul(B1, v128.load(m + i)), f32x4.mul(O1, gc));
    const vi = f32x4.add(f32x4.mul(B2, v128.load(v + i)), f32x4.mul(O2, f32x4.mul(gc, gc)));
    const pd = f32x4.mul(v128.load(p + i), DEC);
    const den = f32x4.add(f32x4.div(f32x4.sqrt(vi), BC), E);
    v128.store(m + i, mi);
    v128.store(v + i, vi);
    v128.store(p + i, f32x4.sub(pd, f32x4.mul(S, f32x4.div(mi, den))));
  }
  for (; i < end; i += 4) {
    const gc = load<f32>(g + i) * clip;
    const mi = beta1 * load<f32>(m + i) + omb1 * gc;
    const vi = beta2 * load<f32>(v + i) + omb2 * (gc * gc);
    const pd = load<f32>(p + i) * decay;
    store<f32>(m + i, mi);
    store<f32>(v + i, vi);
    store<f32>(p + i, pd - stepSize * (mi / (Mathf.sqrt(vi) / sqrtBc2 + eps)));
  }
}

/**
 * sumSquares(x, n): sum of x_i^2 over f32 [n] in f64: four lane sums s_j over i = j mod 4 in increasing i,
 * each s_j = s_j + f64(x_i) * f64(x_i) (the product is exact in f64, the add rounds), then (s0 + s1) + (s2 + s3).
 * For the global gradient norm.
 */
export function sumSquares(x: usize, n: i32): f64 {
  let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
  const end = <usize>n << 2;
  const vecEnd = end & ~15;
  let i: usize = 0;
  for (; i < vecEnd; i += 16) {
    const a = <f64>load<f32>(x + i), b = <f64>load<f32>(x + i, 4), c = <f64>load<f32>(x + i, 8), d = <f64>load<f32>(x + i, 12);
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
  }
  // Tail (n not a multiple of 4): element i goes to lane i mod 4.
  let lane = 0;
  for (; i < end; i += 4) {
    const a = <f64>load<f32>(x + i);
    if (lane == 0) s0 += a * a;
    else if (lane == 1) s1 += a * a;
    else s2 += a * a;
    lane++;
  }
  return (s0 + s1) + (s2 + s3);
}
