// y[t*N + n] = dot(x[t, :], W[n, :]) for t in [0, T), n in [n0, n1).
//   x: f32 [T, K] (16-byte aligned), W: `type` [N, K] (row n at w + n * rowBytes(type, K)), y: f32 [T, N].
//
// Register tiles of 2 token rows x 4 weight rows: 8 f32x4 accumulators, one per (t, n), each summing lane
// j over k = j mod 4 in increasing k, reduced horizontally only after the last k. Because every (t, n)
// has its own accumulator fed in the same order, a result does not depend on T, on the tile it lands in,
// or on the [n0, n1) split (threads): the batch invariance the decoder relies on.
//
// Quantised weights are dequantised a group of 4 at a time in registers by quant.ts's `group`, the same
// function dequantRows uses, so matmul(type, W) == matmul(F32, dequantRows(type, W)) bit for bit.
import { F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K, rowBytes } from "./types";
import { paramElems, scaleA, scaleB, group } from "./quant";
import { madd, hsum } from "./dot";

/**
 * One tile: token rows x0 (and x1 when `two`) against weight rows w0..w3, over all of K. `cnt` (1..4)
 * output rows are valid; when fewer than 4 remain the caller repeats the last row pointer and the extra
 * results are simply not stored (each accumulator is independent, so this changes nothing).
 * y0 / y1: &y[t, n] / &y[t + 1, n].
 */
// @ts-ignore: decorator
@inline function tile(
  type: i32, two: bool, x0: usize, x1: usize,
  w0: usize, w1: usize, w2: usize, w3: usize,
  K: i32, y0: usize, y1: usize, cnt: i32,
): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
  // One flat loop over the K/4 groups; block parameters are refreshed at each block's first group.
  // (For F32/F16/BF16, G == 1: the division, the remainder and the refresh all fold away.)
  const G = <u32>paramElems(type) >> 2;
  const nGroups = <u32>K >> 2;
  let s0 = f32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
  let o0 = s0, o1 = s0, o2 = s0, o3 = s0;
  for (let i: u32 = 0; i < nGroups; i++) {
    const b = <i32>(i / G);
    const g = <i32>(i % G);
    if (g == 0) {
      // Scales of the 4 rows for this block (no-ops for unquantised types).
      s0 = f32x4.splat(scaleA(type, w0, b)); o0 = f32x4.splat(scaleB(type, w0, b));
      s1 = f32x4.splat(scaleA(type, w1, b)); o1 = f32x4.splat(scaleB(type, w1, b));
      s2 = f32x4.splat(scaleA(type, w2, b)); o2 = f32x4.splat(scaleB(type, w2, b));
      s3 = f32x4.splat(scaleA(type, w3, b)); o3 = f32x4.splat(scaleB(type, w3, b));
    }
    const xa = v128.load(x0);
    const xb = two ? v128.load(x1) : xa;
    let w = group(type, w0, b, g, s0, o0);
    a00 = madd(xa, w, a00);
    if (two) a10 = madd(xb, w, a10);
    w = group(type, w1, b, g, s1, o1);
    a01 = madd(xa, w, a01);
    if (two) a11 = madd(xb, w, a11);
    w = group(type, w2, b, g, s2, o2);
    a02 = madd(xa, w, a02);
    if (two) a12 = madd(xb, w, a12);
    w = group(type, w3, b, g, s3, o3);
    a03 = madd(xa, w, a03);
    if (two) a13 = madd(xb, w, a13);
    x0 += 16;
    x1 += 16;
  }
  store<f32>(y0, hsum(a00));
  if (cnt > 1) store<f32>(y0, hsum(a01), 4);
  if (cnt > 2) store<f32>(y0, hsum(a02), 8);
  if (cnt > 3) store<f32>(y0, hsum(a03), 12);
  if (two) {
    store<f32>(y1, hsum(a10));
    if (cnt > 1) store<f32>(y1, hsum(a11), 4);
    if (cnt > 2) store<f32>(y1, hsum(a12), 8);
    if (cnt > 3) store<f32>(y1, hsum(a13), 12);
  }
}

/** The whole matmul for one weight type (a compile-time constant once inlined). */
// @ts-ignore: decorator
@inline function matmulTyped(type: i32, x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const rb = rowBytes(type, K);
  const xStride = <usize>K << 2;
  const yStride = <usize>N << 2;
  // Weight tiles outside, token rows inside: the 4 weight rows stay in cache while every token row uses them.
  for (let n = n0; n < n1; n += 4) {
    const cnt = min(4, n1 - n);
    const w0 = w + <usize>n * rb;
    const w1 = cnt > 1 ? w0 + rb : w0;
    const w2 = cnt > 2 ? w1 + rb : w1;
    const w3 = cnt > 3 ? w2 + rb : w2;
    let xt = x;
    let yt = y + (<usize>n << 2);
    let t = 0;
    for (; t + 1 < T; t += 2) {
      tile(type, true, xt, xt + xStride, w0, w1, w2, w3, K, yt, yt + yStride, cnt);
      xt += xStride << 1;
      yt += yStride << 1;
    }
    if (t < T) tile(type, false, xt, xt, w0, w1, w2, w3, K, yt, yt, cnt);
  }
}

function matmulF32(x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void { matmulTyped(F32, x, w, y, T, K, N, n0, n1); }
function matmulF16(x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void { matmulTyped(F16, x, w, y, T, K, N, n0, n1); }
function matmulBF16(x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void { matmulTyped(BF16, x, w, y, T, K, N, n0, n1); }
function matmulQ8_0(x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void { matmulTyped(Q8_0, x, w, y, T, K, N, n0, n1); }
function matmulQ4_0(x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void { matmulTyped(Q4_0, x, w, y, T, K, N, n0, n1); }
function matmulQ4_1(x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void { matmulTyped(Q4_1, x, w, y, T, K, N, n0, n1); }
function matmulQ4_K(x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void { matmulTyped(Q4_K, x, w, y, T, K, N, n0, n1); }
function matmulQ6_K(x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void { matmulTyped(Q6_K, x, w, y, T, K, N, n0, n1); }

/**
 * matmul(type, x, w, y, T, K, N, n0, n1): see the file comment. K is a multiple of 4 and of the format's
 * block (32 / 256); the caller checks. An unknown type writes nothing.
 */
export function matmul(type: i32, x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  switch (type) {
    case F32: matmulF32(x, w, y, T, K, N, n0, n1); break;
    case F16: matmulF16(x, w, y, T, K, N, n0, n1); break;
    case BF16: matmulBF16(x, w, y, T, K, N, n0, n1); break;
    case Q8_0: matmulQ8_0(x, w, y, T, K, N, n0, n1); break;
    case Q4_0: matmulQ4_0(x, w, y, T, K, N, n0, n1); break;
    case Q4_1: matmulQ4_1(x, w, y, T, K, N, n0, n1); break;
    case Q4_K: matmulQ4_K(x, w, y, T, K, N, n0, n1); break;
    case Q6_K: matmulQ6_K(x, w, y, T, K, N, n0, n1); break;
    default: break;
  }
}
