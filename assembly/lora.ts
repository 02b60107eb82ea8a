// A LoRA on the mask rows of a block, y += B (A x), in one call (spec/kernels.md, "LoRA"). A SPACE step
// runs one per adapted projection and layer (210 for SmolLM2's seven targets), each over a handful of rows
// and a rank of 4-16, so what costs is not arithmetic but the shape: B has K = rank, and a panel kernel
// spends its time setting up and summing accumulators for a dot product of 4 or 16 terms. B is therefore
// kept TRANSPOSED (Bt [r, N], f32 or bf16), and B u is computed as r scaled rows of Bt added up four
// outputs at a time: every output has the lane accumulators of dot.ts over k = j mod 4 in increasing k and
// ends with (s0 + s1) + (s2 + s3), the same operations in the same order as the panel kernels and the
// row-major matmul, so the bits do not change. The addition into y is `add`'s: y + (B u).
import { madd } from "./dot";
import { matmulPacked, PANEL_BF16, PANEL_F32 } from "./packed";

/** Four consecutive Bt values at p (f32, or bf16 widened exactly) as f32x4. */
// @ts-ignore: decorator
@inline function loadBt(bf: bool, p: usize): v128 {
  return bf ? i32x4.shl(v128.load16x4_u(p), 16) : v128.load(p);
}

/** y[0..4) = y + ((s0 + s1) + (s2 + s3)) lane by lane: the dot order's sum, then `add`'s addition. */
// @ts-ignore: decorator
@inline function addSums(y: usize, s0: v128, s1: v128, s2: v128, s3: v128): void {
  v128.store(y, f32x4.add(v128.load(y), f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3))));
}

/** y[0..N) += Bt^T u for one row: u f32 [r], Bt [r, N] (element size 2 or 4), N and r multiples of 4. */
// @ts-ignore: decorator
@inline function upRow(bf: bool, u: usize, bt: usize, y: usize, N: i32, r: i32): void {
  const es: usize = bf ? 2 : 4, rowBytes = <usize>N * es;
  if (r == 4) {
    // The usual rank (the committed SmolLM2 adapter's): u's four values stay in registers, and each
    // output vector is 4 loads, 4 multiply-adds and the sums.
    const u0 = v128.load32_splat(u), u1 = v128.load32_splat(u + 4), u2 = v128.load32_splat(u + 8), u3 = v128.load32_splat(u + 12);
    const zero = f32x4.splat(0);
    for (let n = 0; n < N; n += 4) {
      const p = bt + <usize>n * es, yn = y + (<usize>n << 2);
      const s0 = madd(u0, loadBt(bf, p), zero), s1 = madd(u1, loadBt(bf, p + rowBytes), zero);
      const s2 = madd(u2, loadBt(bf, p + 2 * rowBytes), zero), s3 = madd(u3, loadBt(bf, p + 3 * rowBytes), zero);
      addSums(yn, s0, s1, s2, s3);
    }
    return;
  }
  for (let n = 0; n < N; n += 4) {
    let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
    let p = bt + <usize>n * es;
    for (let j = 0; j < r; j += 4) {
      const uj = u + (<usize>j << 2);
      s0 = madd(v128.load32_splat(uj), loadBt(bf, p), s0);
      s1 = madd(v128.load32_splat(uj + 4), loadBt(bf, p + rowBytes), s1);
      s2 = madd(v128.load32_splat(uj + 8), loadBt(bf, p + 2 * rowBytes), s2);
      s3 = madd(v128.load32_splat(uj + 12), loadBt(bf, p + 3 * rowBytes), s3);
      p += rowBytes << 2;
    }
    addSums(y + (<usize>n << 2), s0, s1, s2, s3);
  }
}

/**
 * loraAdd(layout, x, a, bt, y, u, R, K, N, r): for R consecutive rows t, y[t] += B (A x[t]).
 *  - x: f32 [R, K]; y: f32 [R, N] (updated in place); u: f32 scratch [R, r].
 *  - a: A [r, K] packed by packRows in `layout` (PANEL_F32 or PANEL_BF16); bt: B transposed, [r, N]
 *    row-major, f32 for PANEL_F32, bf16 for PANEL_BF16.
 *  - K, N and r multiples of 4. Any other layout writes nothing.
 */
export function loraAdd(layout: i32, x: usize, a: usize, bt: usize, y: usize, u: usize, R: i32, K: i32, N: i32, r: i32): void {
  if (R <= 0 || r <= 0 || ((K | N | r) & 3) != 0) return;
  if (layout != PANEL_BF16 && layout != PANEL_F32) return;
  matmulPacked(layout, x, a, u, R, K, r, 0, r); // u = A x
  const us = <usize>r << 2, ys = <usize>N << 2;
  for (let t = 0; t < R; t++) {
    if (layout == PANEL_BF16) upRow(true, u + <usize>t * us, bt, y + <usize>t * ys, N, r);
    else upRow(false, u + <usize>t * us, bt, y + <usize>t * ys, N, r);
  }
}
