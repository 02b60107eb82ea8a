// Backward of matmul (y[t, n] = dot(x[t, :], W[n, :]), assembly/matmul.ts):
//   dX = dY W      dx[t, k] = sum over n of dy[t, n] * W[n, k]
//   dW += dY^T X   dw[n, k] += sum over t of dy[t, n] * x[t, k]
//
// Both keep one accumulator per output element fed in a fixed order (increasing n for dX, increasing t for
// dW, product then add with `madd`: rounded in the plain build, fused in the relaxed one), so a result does
// not depend on T, on the register tile it lands in, or on the thread split: the forward's batch invariance.
// dW continues from the value already stored, so accumulating T rows in one call or in several calls of
// consecutive rows gives the same bits (gradient accumulation over samples is invisible).
import { F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K, rowBytes } from "../types";
import { paramElems, scaleA, scaleB, group } from "../quant";
import { madd } from "../dot";

/**
 * Elements k .. k+15 (nv of its 4 groups valid, the others repeat the last valid one) of W row `row`.
 * Quantised formats have K a multiple of 32 and parameter blocks of 16 or 32, so a strip of 16 aligned to
 * 16 lies in one parameter block: one (a, b) pair per strip.
 */
// @ts-ignore: decorator
@inline function strip(type: i32, row: usize, k: i32, nv: i32, j: i32): v128 {
  const P = paramElems(type);
  const e = k + (min(j, nv - 1) << 2);
  if (P == 4) return group(type, row, e >> 2, 0, f32x4.splat(0), f32x4.splat(0));
  const b = e / P;
  return group(type, row, b, (e % P) >> 2, f32x4.splat(scaleA(type, row, b)), f32x4.splat(scaleB(type, row, b)));
}

/** One dX tile: token rows dy0 (and dy1 when `two`) x 16 columns k.. of dX (nv of 4 vectors valid). */
// @ts-ignore: decorator
@inline function backXTile(
  type: i32, two: bool, dy0: usize, dy1: usize, w: usize, rb: usize, N: i32,
  k: i32, nv: i32, dx0: usize, dx1: usize, accumulate: bool,
): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  const quant = paramElems(type) != 4;
  let row = w;
  for (let n = 0; n < N; n++) {
    let w0: v128, w1: v128, w2: v128, w3: v128;
    if (quant) {
      // Shared block parameters of the strip (see `strip`).
      const P = paramElems(type);
      const bk = k / P;
      const g = (k % P) >> 2;
      const sa = f32x4.splat(scaleA(type, row, bk)), sb = f32x4.splat(scaleB(type, row, bk));
      w0 = group(type, row, bk, g, sa, sb);
      w1 = group(type, row, bk, g + 1, sa, sb);
      w2 = group(type, row, bk, g + 2, sa, sb);
      w3 = group(type, row, bk, g + 3, sa, sb);
    } else {
      w0 = strip(type, row, k, nv, 0);
      w1 = strip(type, row, k, nv, 1);
      w2 = strip(type, row, k, nv, 2);
      w3 = strip(type, row, k, nv, 3);
    }
    const d0 = f32x4.splat(load<f32>(dy0 + (<usize>n << 2)));
    a0 = madd(d0, w0, a0);
    a1 = madd(d0, w1, a1);
    a2 = madd(d0, w2, a2);
    a3 = madd(d0, w3, a3);
    if (two) {
      const d1 = f32x4.splat(load<f32>(dy1 + (<usize>n << 2)));
      b0 = madd(d1, w0, b0);
      b1 = madd(d1, w1, b1);
      b2 = madd(d1, w2, b2);
      b3 = madd(d1, w3, b3);
    }
    row += rb;
  }
  storeStrip(dx0, a0, a1, a2, a3, nv, accumulate);
  if (two) storeStrip(dx1, b0, b1, b2, b3, nv, accumulate);
}

/** out[0 .. 4nv) = v (or out += v when accumulating: one rounded add per element). */
// @ts-ignore: decorator
@inline function storeStrip(out: usize, v0: v128, v1: v128, v2: v128, v3: v128, nv: i32, accumulate: bool): void {
  if (accumulate) {
    v0 = f32x4.add(v128.load(out), v0);
    if (nv > 1) v1 = f32x4.add(v128.load(out, 16), v1);
    if (nv > 2) v2 = f32x4.add(v128.load(out, 32), v2);
    if (nv > 3) v3 = f32x4.add(v128.load(out, 48), v3);
  }
  v128.store(out, v0);
  if (nv > 1) v128.store(out, v1, 16);
  if (nv > 2) v128.store(out, v2, 32);
  if (nv > 3) v128.store(out, v3, 48);
}

// @ts-ignore: decorator
@inline function backXTyped(
  type: i32, dy: usize, w: usize, dx: usize, T: i32, K: i32, N: i32, k0: i32, k1: i32, accumulate: bool,
): void {
  const rb = rowBytes(type, K);
  const dyStride = <usize>N << 2;
  const dxStride = <usize>K << 2;
  // Column strips outside, token rows inside: the strip of W (N rows x 64 bytes) stays in cache.
  for (let k = k0; k < k1; k += 16) {
    const nv = min(4, (k1 - k) >> 2);
    let dyt = dy;
    let dxt = dx + (<usize>k << 2);
    let t = 0;
    for (; t + 1 < T; t += 2) {
      backXTile(type, true, dyt, dyt + dyStride, w, rb, N, k, nv, dxt, dxt + dxStride, accumulate);
      dyt += dyStride << 1;
      dxt += dxStride << 1;
    }
    if (t < T) backXTile(type, false, dyt, dyt, w, rb, N, k, nv, dxt, dxt, accumulate);
  }
}

function backXF32(dy: usize, w: usize, dx: usize, T: i32, K: i32, N: i32, k0: i32, k1: i32, acc: bool): void { backXTyped(F32, dy, w, dx, T, K, N, k0, k1, acc); }
function backXF16(dy: usize, w: usize, dx: usize, T: i32, K: i32, N: i32, k0: i32, k1: i32, acc: bool): void { backXTyped(F16, dy, w, dx, T, K, N, k0, k1, acc); }
function backXBF16(dy: usize, w: usize, dx: usize, T: i32, K: i32, N: i32, k0: i32, k1: i32, acc: bool): void { backXTyped(BF16, dy, w, dx, T, K, N, k0, k1, acc); }
function backXQ8_0(dy: usize, w: usize, dx: usize, T: i32, K: i32, N: i32, k0: i32, k1: i32, acc: bool): void { backXTyped(Q8_0, dy, w, dx, T, K, N, k0, k1, acc); }
function backXQ4_0(dy: usize, w: usize, dx: usize, T: i32, K: i32, N: i32, k0: i32, k1: i32, acc: bool): void { backXTyped(Q4_0, dy, w, dx, T, K, N, k0, k1, acc); }
function backXQ4_1(dy: usize, w: usize, dx: usize, T: i32, K: i32, N: i32, k0: i32, k1: i32, acc: bool): void { backXTyped(Q4_1, dy, w, dx, T, K, N, k0, k1, acc); }
function backXQ4_K(dy: usize, w: usize, dx: usize, T: i32, K: i32, N: i32, k0: i32, k1: i32, acc: bool): void { backXTyped(Q4_K, dy, w, dx, T, K, N, k0, k1, acc); }
function backXQ6_K(dy: usize, w: usize, dx: usize, T: i32, K: i32, N: i32, k0: i32, k1: i32, acc: bool): void { backXTyped(Q6_K, dy, w, dx, T, K, N, k0, k1, acc); }

/**
 * matmulBackX(type, dy, w, dx, T, K, N, k0, k1, accumulate): for t < T and k in [k0, k1) (multiples of 4;
 * for quantised W multiples of 16):
 *   s = sum over n = 0 .. N-1 in increasing n of dy[t, n] * W[n, k] (one accumulator, from 0),
 *   dx[t, k] = s, or dx[t, k] + s when `accumulate`.
 *   dy: f32 [T, N]; W: `type` [N, K] (dequantised in registers with the forward's values); dx: f32 [T, K].
 */
export function matmulBackX(type: i32, dy: usize, w: usize, dx: usize, T: i32, K: i32, N: i32, k0: i32, k1: i32, accumulate: bool): void {
  switch (type) {
    case F32: backXF32(dy, w, dx, T, K, N, k0, k1, accumulate); break;
    case F16: backXF16(dy, w, dx, T, K, N, k0, k1, accumulate); break;
    case BF16: backXBF16(dy, w, dx, T, K, N, k0, k1, accumulate); break;
    case Q8_0: backXQ8_0(dy, w, dx, T, K, N, k0, k1, accumulate); break;
    case Q4_0: backXQ4_0(dy, w, dx, T, K, N, k0, k1, accumulate); break;
    case Q4_1: backXQ4_1(dy, w, dx, T, K, N, k0, k1, accumulate); break;
    case Q4_K: backXQ4_K(dy, w, dx, T, K, N, k0, k1, accumulate); break;
    case Q6_K: backXQ6_K(dy, w, dx, T, K, N, k0, k1, accumulate); break;
    default: break;
  }
}

/**
 * matmulBackW(dy, x, dw, T, K, N, n0, n1): for n in [n0, n1) and k < K (K a multiple of 4):
 *   dw[n, k] = dw[n, k] + dy[0, n] * x[0, k] + dy[1, n] * x[1, k] + ... in increasing t, one accumulator
 *   starting from the stored dw[n, k] (`madd` per row).
 *   dy: f32 [T, N]; x: f32 [T, K]; dw: f32 [N, K].
 * Tiles of 2 weight rows x 16 columns: 8 accumulators, 4 x loads and 2 dy loads per token row.
 */
export function matmulBackW(dy: usize, x: usize, dw: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const xStride = <usize>K << 2;
  const dyStride = <usize>N << 2;
  for (let n = n0; n < n1; n += 2) {
    const two = n + 1 < n1;
    const w0 = dw + <usize>n * xStride;
    const w1 = two ? w0 + xStride : w0;
    for (let k = 0; k < K; k += 16) {
      const nv = min(4, (K - k) >> 2);
      // Offsets of the 4 column vectors; invalid ones repeat the last valid one (loaded, never stored).
      const o0: usize = <usize>k << 2;
      const o1: usize = o0 + (nv > 1 ? 16 : 0);
      const o2: usize = o1 + (nv > 2 ? 16 : 0);
      const o3: usize = o2 + (nv > 3 ? 16 : 0);
      let a0 = v128.load(w0 + o0), a1 = v128.load(w0 + o1), a2 = v128.load(w0 + o2), a3 = v128.load(w0 + o3);
      let b0 = v128.load(w1 + o0), b1 = v128.load(w1 + o1), b2 = v128.load(w1 + o2), b3 = v128.load(w1 + o3);
      let xt = x;
      let dyt = dy + (<usize>n << 2);
      for (let t = 0; t < T; t++) {
        const x0 = v128.load(xt + o0), x1 = v128.load(xt + o1), x2 = v128.load(xt + o2), x3 = v128.load(xt + o3);
        const d0 = f32x4.splat(load<f32>(dyt));
        a0 = madd(d0, x0, a0);
        a1 = madd(d0, x1, a1);
        a2 = madd(d0, x2, a2);
        a3 = madd(d0, x3, a3);
        if (two) {
          const d1 = f32x4.splat(load<f32>(dyt, 4));
          b0 = madd(d1, x0, b0);
          b1 = madd(d1, x1, b1);
          b2 = madd(d1, x2, b2);
          b3 = madd(d1, x3, b3);
        }
        xt += xStride;
        dyt += dyStride;
      }
      v128.store(w0 + o0, a0);
      if (nv > 1) v128.store(w0 + o1, a1);
      if (nv > 2) v128.store(w0 + o2, a2);
      if (nv > 3) v128.store(w0 + o3, a3);
      if (two) {
        v128.store(w1 + o0, b0);
        if (nv > 1) v128.store(w1 + o1, b1);
        if (nv > 2) v128.store(w1 + o2, b2);
        if (nv > 3) v128.store(w1 + o3, b3);
      }
    }
  }
}
