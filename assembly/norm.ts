import { dot } from "./dot";

/**
 * rmsnorm(x, w, y, T, D, eps): per row t, r = 1 / sqrt(dot(x, x) / D + eps), y = (x * r) * w (all f32).
 *   x, y: f32 [T, D] (y may alias x); w: f32 [D]; D a multiple of 4.
 * The sum of squares is the core's dot product, so it has the contract's fixed order.
 */
export function rmsnorm(x: usize, w: usize, y: usize, T: i32, D: i32, eps: f32): void {
  const stride = <usize>D << 2;
  for (let t = 0; t < T; t++) {
    const r = <f32>1 / Mathf.sqrt(dot(x, x, D) / <f32>D + eps);
    const rv = f32x4.splat(r);
    for (let i: usize = 0; i < stride; i += 16) {
      v128.store(y + i, f32x4.mul(f32x4.mul(v128.load(x + i), rv), v128.load(w + i)));
    }
    x += stride;
    y += stride;
  }
}
