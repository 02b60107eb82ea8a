import { dot, madd, hsum } from "../dot";

/**
 * rmsnormBack(x, w, dy, dx, dw, T, D, eps): backward of rmsnorm (y = (x * r) * w, r = 1 / sqrt(dot(x, x) / D
 * + eps)). Per row t, with r recomputed exactly as the forward does and g = dy * w:
 *   c    = sum_i g_i * x_i        (the dot product's lane order; `madd`)
 *   coef = ((r * r) * r) * (c / D)
 *   dx_i = dx_i + ((r * g_i) - (x_i * coef))            (accumulates into dx: the residual stream)
 *   dw_i = dw_i + dy_i * (x_i * r)   in increasing t     (skipped when dw == 0)
 *   x, dy, dx: f32 [T, D]; w, dw: f32 [D]; D a multiple of 4.
 */
export function rmsnormBack(x: usize, w: usize, dy: usize, dx: usize, dw: usize, T: i32, D: i32, eps: f32): void {
  const stride = <usize>D << 2;
  for (let t = 0; t < T; t++) {
    const r = <f32>1 / Mathf.sqrt(dot(x, x, D) / <f32>D + eps);
    let acc = f32x4.splat(0);
    for (let i: usize = 0; i < stride; i += 16) {
      acc = madd(f32x4.mul(v128.load(dy + i), v128.load(w + i)), v128.load(x + i), acc);
    }
    const coef = f32x4.splat(((r * r) * r) * (hsum(acc) / <f32>D));
    const rv = f32x4.splat(r);
    for (let i: usize = 0; i < stride; i += 16) {
      const xi = v128.load(x + i);
      const g = f32x4.mul(v128.load(dy + i), v128.load(w + i));
      const d = f32x4.sub(f32x4.mul(rv, g), f32x4.mul(xi, coef));
      v128.store(dx + i, f32x4.add(v128.load(dx + i), d));
      if (dw) v128.store(dw + i, madd(v128.load(dy + i), f32x4.mul(xi, rv), v128.load(dw + i)));
    }
    x += stride;
    dy += stride;
    dx += stride;
  }
}
