// Packed weight layouts (spec/kernels.md, "Packed layouts"): weights repacked once at load into 4-row
// panels that the matmul inner loop streams front to back, so one sequential read feeds 4 output rows.
//
//   PANEL_F32  (1): f32 panels. Same dot-product order as matmul(F32, ...): results are bit-identical.
//   PANEL_BF16 (2): bf16 panels, widened to f32 in registers (exact), then the same order as F32.
//   PANEL_Q8   (3): int8 panels with a scale per row and block of 32, against int8 activations quantised
//                   per row and block (quantizeRows); integer dot products, f32 only once per block.
//   PANEL_Q4   (4): a GGUF 4-bit matrix (Q4_0, Q4_1, Q4_K) kept as its 4-bit codes with an f32 scale and
//                   offset per row and block of 32, against the same int8 activations (q4.ts).
//
// Every output element has its own accumulator fed in a fixed order that depends on neither T, nor the
// tile it lands in, nor the [n0, n1) split: the batch invariance of matmul carries over to every layout.
import { dequantRows } from "./quant";
import { madd, hsum } from "./dot";
import { q8Tile, q8TilePair, q8PanelBytes, q8PackPanel, q8RowBytes } from "./q8";
import { q4Tile, q4TilePair, q4PanelBytes, q4PackPanel, isQ4Type } from "./q4";

export const PANEL_F32: i32 = 1;
export const PANEL_BF16: i32 = 2;
export const PANEL_Q8: i32 = 3;
export const PANEL_Q4: i32 = 4;

/** Bytes of one 4-row panel over K (K a multiple of 4; of 32 for PANEL_Q8). */
// @ts-ignore: decorator
@inline function panelBytes(layout: i32, K: i32): usize {
  if (layout == PANEL_F32) return <usize>K << 4;
  if (layout == PANEL_BF16) return <usize>K << 3;
  if (layout == PANEL_Q4) return q4PanelBytes(K);
  return q8PanelBytes(K);
}

// ---------------------------------------------------------------------------------------------------
// Packing

/** f32 -> bf16 bits, round to nearest even; NaN stays NaN (quietened, sign kept). */
// @ts-ignore: decorator
@inline function bf16Bits(f: f32): u32 {
  const u = reinterpret<u32>(f);
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >> 16) | 0x40) & 0xffff;
  return (u + 0x7fff + ((u >> 16) & 1)) >> 16;
}

/** Packs 4 f32 rows r0..r3 (K elements each, at rows + r*K*4) as panel bytes at dst. */
function packPanelFloat(layout: i32, rows: usize, dst: usize, K: i32): void {
  const rs = <usize>K << 2;
  if (layout == PANEL_F32) {
    for (let g = 0; g < K; g += 4) {
      const src = rows + (<usize>g << 2);
      for (let r = 0; r < 4; r++) v128.store(dst + (<usize>r << 4), v128.load(src + <usize>r * rs));
      dst += 64;
    }
    return;
  }
  // PANEL_BF16: groups of 4 k, 32 bytes: 16 bytes for rows 0 and 1, then 16 for rows 2 and 3, each i32
  // lane j holding k_j of the first row in its low half and of the second row in its high half.
  for (let g = 0; g < K; g += 4) {
    const src = rows + (<usize>g << 2);
    for (let pair = 0; pair < 2; pair++) {
      const a = src + <usize>(2 * pair) * rs, b = a + rs;
      const o = dst + (<usize>pair << 4);
      for (let j = 0; j < 4; j++) {
        store<u16>(o + (<usize>j << 2), <u16>bf16Bits(load<f32>(a + (<usize>j << 2))));
        store<u16>(o + (<usize>j << 2) + 2, <u16>bf16Bits(load<f32>(b + (<usize>j << 2))));
      }
    }
    dst += 32;
  }
}

/**
 * packRows(layout, type, w, K, N, dst, tmp): W = `type` [N, K] (row-major, GGML type) repacked into
 * `layout` at dst (packedBytes(layout, K, N) bytes, 16-byte aligned). Each group of 4 rows is first
 * dequantised into tmp (f32 [4, K] scratch, 16-byte aligned) exactly as dequantRows does; rows past N
 * are zeros. PANEL_Q8 quantises as q8.ts describes (8-bit values in the plain build, 7-bit + 64 in the
 * relaxed build, whose integer dot product needs one operand in [0, 127]).
 */
export function packRows(layout: i32, type: i32, w: usize, K: i32, N: i32, dst: usize, tmp: usize): void {
  const pb = panelBytes(layout, K);
  if (layout == PANEL_Q4) {
    // The 4-bit codes are copied as they are (no dequantisation); other types cannot be PANEL_Q4.
    if (!isQ4Type(type)) return;
    for (let n = 0; n < N; n += 4) q4PackPanel(type, w, K, n, min(4, N - n), dst + <usize>(n >> 2) * pb);
    return;
  }
  for (let n = 0; n < N; n += 4) {
    const cnt = min(4, N - n);
    dequantRows(type, w, tmp, K, n, n + cnt);
    if (cnt < 4) memory.fill(tmp + <usize>cnt * (<usize>K << 2), 0, <usize>(4 - cnt) * (<usize>K << 2));
    if (layout == PANEL_Q8) q8PackPanel(tmp, dst, K);
    else packPanelFloat(layout, tmp, dst, K);
    dst += pb;
  }
}

// ---------------------------------------------------------------------------------------------------
// f32 / bf16 panels: register tiles of 2 token rows x the panel's 4 weight rows, 8 f32x4 accumulators
// with lanes j = k mod 4, horizontal sums only after the last k (the order of dot.ts).

/** Stores the (s0 + s1) + (s2 + s3) sums of up to 4 accumulators to y[0 .. cnt). */
// @ts-ignore: decorator
@inline function storeSums(y: usize, a0: v128, a1: v128, a2: v128, a3: v128, cnt: i32): void {
  if (cnt == 4) {
    // hsum of all four at once: transpose, so that s_j holds lane j of a0..a3, then (s0 + s1) + (s2 + s3)
    // lane by lane: the same additions in the same order as hsum (bit-identical), in 11 vector operations
    // instead of 4 x (3 lane moves + 3 adds). It matters where K is small: a LoRA's B (K = its rank).
    const t0 = v128.shuffle<f32>(a0, a1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(a2, a3, 0, 4, 1, 5);
    const t2 = v128.shuffle<f32>(a0, a1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(a2, a3, 2, 6, 3, 7);
    const s0 = v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), s1 = v128.shuffle<f32>(t0, t1, 2, 3, 6, 7);
    const s2 = v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), s3 = v128.shuffle<f32>(t2, t3, 2, 3, 6, 7);
    v128.store(y, f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
    return;
  }
  store<f32>(y, hsum(a0));
  if (cnt > 1) store<f32>(y, hsum(a1), 4);
  if (cnt > 2) store<f32>(y, hsum(a2), 8);
  if (cnt > 3) store<f32>(y, hsum(a3), 12);
}

// @ts-ignore: decorator
@inline function tileF32(two: bool, x0: usize, x1: usize, wp: usize, K: i32, y0: usize, y1: usize, cnt: i32): void {
  let a00 = f32x4.splat(0), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
  const end = wp + (<usize>K << 4);
  while (wp < end) {
    const xa = v128.load(x0);
    const xb = two ? v128.load(x1) : xa;
    let w = v128.load(wp);
    a00 = madd(xa, w, a00);
    if (two) a10 = madd(xb, w, a10);
    w = v128.load(wp, 16);
    a01 = madd(xa, w, a01);
    if (two) a11 = madd(xb, w, a11);
    w = v128.load(wp, 32);
    a02 = madd(xa, w, a02);
    if (two) a12 = madd(xb, w, a12);
    w = v128.load(wp, 48);
    a03 = madd(xa, w, a03);
    if (two) a13 = madd(xb, w, a13);
    wp += 64;
    x0 += 16;
    x1 += 16;
  }
  storeSums(y0, a00, a01, a02, a03, cnt);
  if (two) storeSums(y1, a10, a11, a12, a13, cnt);
}

/** The bf16 values in the low / high halves of the i32 lanes of v as f32x4 (shift / mask: exact). */
// @ts-ignore: decorator
@inline function bfLo(v: v128): v128 {
  return i32x4.shl(v, 16);
}
// @ts-ignore: decorator
@inline function bfHi(v: v128): v128 {
  // (A shift pair rather than a mask: the mask constant would take the tile's last free register.)
  return i32x4.shl(i32x4.shr_u(v, 16), 16);
}

// @ts-ignore: decorator
@inline function tileBF16(two: bool, x0: usize, x1: usize, wp: usize, K: i32, y0: usize, y1: usize, cnt: i32): void {
  let a00 = f32x4.splat(0), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
  const end = wp + (<usize>K << 3);
  while (wp < end) {
    // One group of 4 k: two loads give the 4 rows (each load two rows), lanes j = k mod 4.
    const xa = v128.load(x0);
    const xb = two ? v128.load(x1) : xa;
    const v01 = v128.load(wp), v23 = v128.load(wp, 16);
    let w = bfLo(v01);
    a00 = madd(xa, w, a00);
    if (two) a10 = madd(xb, w, a10);
    w = bfHi(v01);
    a01 = madd(xa, w, a01);
    if (two) a11 = madd(xb, w, a11);
    w = bfLo(v23);
    a02 = madd(xa, w, a02);
    if (two) a12 = madd(xb, w, a12);
    w = bfHi(v23);
    a03 = madd(xa, w, a03);
    if (two) a13 = madd(xb, w, a13);
    wp += 32;
    x0 += 16;
    x1 += 16;
  }
  storeSums(y0, a00, a01, a02, a03, cnt);
  if (two) storeSums(y1, a10, a11, a12, a13, cnt);
}

/**
 * One token row against two panels (at wa and wb; outputs at ya and yb): the remainder row of a block,
 * or the whole block at T = 1. Each of the 8 accumulators is the same chain of operations as in the
 * tiles above (bit-identical); two panels instead of one give 8 independent chains, so a row is not
 * bound by the latency of 4 (a LoRA's A at one mask row: 4 panels over K = 576-1536).
 */
// @ts-ignore: decorator
@inline function tileRowPair(bf: bool, x: usize, wa: usize, wb: usize, K: i32, ya: usize, yb: usize, cntA: i32, cntB: i32): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  const end = wa + (bf ? <usize>K << 3 : <usize>K << 4);
  while (wa < end) {
    const xa = v128.load(x);
    if (bf) {
      const va = v128.load(wa), vb = v128.load(wb);
      a0 = madd(xa, bfLo(va), a0);
      b0 = madd(xa, bfLo(vb), b0);
      a1 = madd(xa, bfHi(va), a1);
      b1 = madd(xa, bfHi(vb), b1);
      const wa2 = v128.load(wa, 16), wb2 = v128.load(wb, 16);
      a2 = madd(xa, bfLo(wa2), a2);
      b2 = madd(xa, bfLo(wb2), b2);
      a3 = madd(xa, bfHi(wa2), a3);
      b3 = madd(xa, bfHi(wb2), b3);
      wa += 32;
      wb += 32;
    } else {
      a0 = madd(xa, v128.load(wa), a0);
      b0 = madd(xa, v128.load(wb), b0);
      a1 = madd(xa, v128.load(wa, 16), a1);
      b1 = madd(xa, v128.load(wb, 16), b1);
      a2 = madd(xa, v128.load(wa, 32), a2);
      b2 = madd(xa, v128.load(wb, 32), b2);
      a3 = madd(xa, v128.load(wa, 48), a3);
      b3 = madd(xa, v128.load(wb, 48), b3);
      wa += 64;
      wb += 64;
    }
    x += 16;
  }
  storeSums(ya, a0, a1, a2, a3, cntA);
  storeSums(yb, b0, b1, b2, b3, cntB);
}

// ---------------------------------------------------------------------------------------------------
// Driver

/** Panels per n-chunk when T spans several tiles: about 256 KiB of weights, so re-reads hit L2. */
// @ts-ignore: decorator
@inline function chunkPanels(pb: usize): i32 {
  return max(1, <i32>((<usize>256 << 10) / pb));
}

/**
 * The i-th panel (of `panels`, half = (panels + 1) >> 1) in the order the tiles visit them: 0, half, 1,
 * half + 1, ... The panels are read from two places at once, two sequential streams instead of one,
 * which a core's hardware prefetchers run ahead on in parallel: on the Xeon VMs, where one stream reads
 * about 10 GB/s and a core does not overlap that wait with its arithmetic, a q4 forward's matmuls take
 * 7-13% less time at T = 1..4 (three or more streams gain nothing more; spec/kernels.md). Each tile still
 * computes its own outputs whole, so the order changes no result.
 */
// @ts-ignore: decorator
@inline function visit(i: i32, half: i32): i32 {
  return (i & 1) ? half + (i >> 1) : i >> 1;
}

/** R token rows at x (their outputs at y) against panels [nc, ncEnd) of an integer layout. */
// @ts-ignore: decorator
@inline function intTiles(layout: i32, R: i32, x: usize, xs: usize, w: usize, pb: usize, y: usize, ys: usize, K: i32, nc: i32, ncEnd: i32): void {
  const panels = (ncEnd - nc + 3) >> 2, half = (panels + 1) >> 1;
  let i = 0;
  if (ASC_FEATURE_RELAXED_SIMD && R <= 2) {
    // One row or two: the panels two at a time, in the same visiting order (q4TilePair, q8TilePair).
    for (; i + 1 < panels; i += 2) {
      const n = nc + (visit(i, half) << 2), m = nc + (visit(i + 1, half) << 2);
      const wa = w + <usize>(n >> 2) * pb, wb = w + <usize>(m >> 2) * pb, ya = y + (<usize>n << 2), yb = y + (<usize>m << 2);
      if (layout == PANEL_Q4) q4TilePair(R, x, xs, wa, wb, K, ya, yb, ys, min(4, ncEnd - n), min(4, ncEnd - m));
      else q8TilePair(R, x, xs, wa, wb, K, ya, yb, ys, min(4, ncEnd - n), min(4, ncEnd - m));
    }
  }
  for (; i < panels; i++) {
    const n = nc + (visit(i, half) << 2);
    const wp = w + <usize>(n >> 2) * pb, yn = y + (<usize>n << 2), cnt = min(4, ncEnd - n);
    if (layout == PANEL_Q4) q4Tile(R, x, xs, wp, K, yn, ys, cnt);
    else q8Tile(R, x, xs, wp, K, yn, ys, cnt);
  }
}

/** Token rows [t0, T) against panels [nc, ncEnd) (output rows, ncEnd a multiple of 4 or N). */
// @ts-ignore: decorator
@inline function runChunk(layout: i32, x: usize, xs: usize, w: usize, pb: usize, y: usize, ys: usize, T: i32, K: i32, nc: i32, ncEnd: i32): void {
  if (layout == PANEL_Q8 || layout == PANEL_Q4) {
    // Tiles of up to 4 token rows (lanes = output rows, so a tile holds one accumulator per token row).
    // The remainder is one tile of 1, 2 or 3 rows, so a block of up to 4 rows streams the weights once.
    let t = 0;
    for (; t + 3 < T; t += 4) intTiles(layout, 4, x + <usize>t * xs, xs, w, pb, y + <usize>t * ys, ys, K, nc, ncEnd);
    const rest = T - t;
    if (rest == 3) intTiles(layout, 3, x + <usize>t * xs, xs, w, pb, y + <usize>t * ys, ys, K, nc, ncEnd);
    else if (rest == 2) intTiles(layout, 2, x + <usize>t * xs, xs, w, pb, y + <usize>t * ys, ys, K, nc, ncEnd);
    else if (rest == 1) intTiles(layout, 1, x + <usize>t * xs, xs, w, pb, y + <usize>t * ys, ys, K, nc, ncEnd);
    return;
  }
  const panels = (ncEnd - nc + 3) >> 2, half = (panels + 1) >> 1;
  let t = 0;
  for (; t + 1 < T; t += 2) {
    const x0 = x + <usize>t * xs, y0 = y + <usize>t * ys;
    for (let i = 0; i < panels; i++) {
      const n = nc + (visit(i, half) << 2);
      const wp = w + <usize>(n >> 2) * pb, yn = y0 + (<usize>n << 2), cnt = min(4, ncEnd - n);
      if (layout == PANEL_F32) tileF32(true, x0, x0 + xs, wp, K, yn, yn + ys, cnt);
      else tileBF16(true, x0, x0 + xs, wp, K, yn, yn + ys, cnt);
    }
  }
  if (t < T) {
    // The last row alone: panels two at a time (tileRowPair), in the same visiting order.
    const x0 = x + <usize>t * xs, y0 = y + <usize>t * ys;
    let i = 0;
    for (; i + 1 < panels; i += 2) {
      const n = nc + (visit(i, half) << 2), m = nc + (visit(i + 1, half) << 2);
      tileRowPair(layout == PANEL_BF16, x0, w + <usize>(n >> 2) * pb, w + <usize>(m >> 2) * pb, K,
        y0 + (<usize>n << 2), y0 + (<usize>m << 2), min(4, ncEnd - n), min(4, ncEnd - m));
    }
    if (i < panels) {
      const n = nc + (visit(i, half) << 2);
      const wp = w + <usize>(n >> 2) * pb, yn = y0 + (<usize>n << 2), cnt = min(4, ncEnd - n);
      if (layout == PANEL_F32) tileF32(false, x0, x0, wp, K, yn, yn, cnt);
      else tileBF16(false, x0, x0, wp, K, yn, yn, cnt);
    }
  }
}

/** The whole matmul for one layout (a compile-time constant once inlined). */
// @ts-ignore: decorator
@inline function matmulLayout(layout: i32, x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  const pb = panelBytes(layout, K);
  const integer = layout == PANEL_Q8 || layout == PANEL_Q4;
  const xs = integer ? q8RowBytes(K) : <usize>K << 2;
  const ys = <usize>N << 2;
  // Weight chunks outside, token tiles inside: a chunk is streamed from memory by the first tile and
  // re-read from cache by the others (one chunk of everything when a single tile covers T).
  const single = integer ? T <= 4 : T <= 2;
  const step = single ? n1 - n0 : chunkPanels(pb) << 2;
  for (let nc = n0; nc < n1; nc += step) runChunk(layout, x, xs, w, pb, y, ys, T, K, nc, min(n1, nc + step));
}

function matmulPanelF32(x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void { matmulLayout(PANEL_F32, x, w, y, T, K, N, n0, n1); }
function matmulPanelBF16(x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void { matmulLayout(PANEL_BF16, x, w, y, T, K, N, n0, n1); }
function matmulPanelQ8(x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void { matmulLayout(PANEL_Q8, x, w, y, T, K, N, n0, n1); }
function matmulPanelQ4(x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void { matmulLayout(PANEL_Q4, x, w, y, T, K, N, n0, n1); }


/**
 * matmulPacked(layout, x, w, y, T, K, N, n0, n1): y[t*N + n] = W[n, :] . x[t, :] for t < T, n in [n0, n1),
 * W packed by packRows. n0 is a multiple of 4; n1 a multiple of 4 or N. x: f32 [T, K] for PANEL_F32 /
 * PANEL_BF16; for PANEL_Q8 and PANEL_Q4 the quantised rows that quantizeRows wrote. An unknown layout writes nothing.
 */
export function matmulPacked(layout: i32, x: usize, w: usize, y: usize, T: i32, K: i32, N: i32, n0: i32, n1: i32): void {
  if (n0 >= n1 || T <= 0) return;
  switch (layout) {
    case PANEL_F32: matmulPanelF32(x, w, y, T, K, N, n0, n1); break;
    case PANEL_BF16: matmulPanelBF16(x, w, y, T, K, N, n0, n1); break;
    case PANEL_Q8: matmulPanelQ8(x, w, y, T, K, N, n0, n1); break;
    case PANEL_Q4: matmulPanelQ4(x, w, y, T, K, N, n0, n1); break;
    default: break;
  }
}

