// The 4-bit layout PANEL_Q4 (spec/kernels.md, "Packed layouts"): GGUF 4-bit weights (Q4_0, Q4_1, Q4_K)
// kept as their 4-bit codes, multiplied with the int8 activation rows of quantizeRows (q8.ts).
//
// Every 4-bit format is one shape per row and block of 32: w = s * q + o with an unsigned code q in
// [0, 15] (Q4_0: s = d, o = -8 d; Q4_1: s = d, o = m; Q4_K: s = d * sc, o = -(dmin * mn)), s and o
// stored as f32 (exact: products of an f16 and a 6-bit integer). So the weights are the file's, not
// requantised; only the activations are quantised, as in PANEL_Q8. The result, per output y[t, n]:
//
//   acc = 0; for b = 0 .. K/32 - 1:
//     acc = acc + f32(isum_b) * (s[n, b] * dx[t, b]);   acc = acc + o[n, b] * xsum[t, b]
//
// with isum_b = the exact integer sum over the block of q * xq, and xsum = f32(d_x * sum(xq)) the
// activation block's value sum (quantizeRows stores it). Every f32 operation is rounded, never fused,
// in this order, whatever T, the tile or the split: batch invariant and exact within itself.
//
// Why it is fast: relaxed SIMD's i16x8.relaxed_dot_i8x16_i7x16_s is exactly specified when one operand is
// in [0, 127], and a code in [0, 15] times an activation in [-127, 127] keeps each pair sum within
// 2 * 15 * 127 = 3810, so the 8 chunks of a block add up in i16 (<= 30480 < 2^15) before one widening:
// 16 multiply-adds per instruction, one widening per 128. The plain build reuses q8.ts's i16 dot path.
import { Q4_0, Q4_1, Q4_K, rowBytes } from "./types";
import { scaleA, scaleB } from "./quant";
import { storeLanes, storePairLanes, pairsOfPairs } from "./q8";

/** Bytes of one 4-row panel over K (K a multiple of 32): per block, 4 f32 s, 4 f32 o, then 64 code bytes. */
// @ts-ignore: decorator
@inline export function q4PanelBytes(K: i32): usize {
  return <usize>(K >> 5) * 96;
}

/** Whether `type` is a 4-bit format this layout keeps as it is. */
// @ts-ignore: decorator
@inline export function isQ4Type(type: i32): bool {
  return type == Q4_0 || type == Q4_1 || type == Q4_K;
}

/** The 4-bit code of element i (< 32) of parameter block b of the row at `row`. */
// @ts-ignore: decorator
@inline function code4(type: i32, row: usize, b: i32, i: i32): u32 {
  if (type == Q4_K) {
    // Sub-block j of a 256 super-block: bytes qs[32 * (j >> 1) + i], low nibble for even j, high for odd.
    const j = b & 7;
    const p = row + <usize>(b >> 3) * 144 + 16 + (<usize>(j >> 1) << 5) + <usize>i;
    return (<u32>load<u8>(p) >> ((j & 1) << 2)) & 15;
  }
  // Q4_0 / Q4_1: element i < 16 is the low nibble of qs[i], element i + 16 the high nibble of qs[i].
  const p = row + <usize>b * (type == Q4_0 ? 18 : 20) + (type == Q4_0 ? 2 : 4) + <usize>(i & 15);
  return (<u32>load<u8>(p) >> ((i >> 4) << 2)) & 15;
}

/** The offset o of parameter block b (w = s * q + o). */
// @ts-ignore: decorator
@inline function offsetO(type: i32, row: usize, b: i32): f32 {
  if (type == Q4_0) return <f32>-8 * scaleA(type, row, b);
  if (type == Q4_1) return scaleB(type, row, b);
  return -scaleB(type, row, b); // Q4_K subtracts dmin * mn
}

/**
 * Byte of chunk position (r, i) (row r of the panel, element i < 4 of a 4-k chunk): the order q8.ts's
 * inner loops read. Relaxed: 4r + i. Plain: 4r + {0, 2, 1, 3}[i] (i16 lanes hold k pairs (0,1) in their
 * low bytes and (2,3) in their high bytes).
 */
// @ts-ignore: decorator
@inline function chunkByte(r: i32, i: i32): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? (r << 2) + i : (r << 2) + ((i & 1) << 1) + (i >> 1);
}

/**
 * Packs rows [n, n + cnt) (cnt <= 4; missing rows are zeros) of W: type [N, K] at w into one panel at
 * dst. Block b at dst + 96b: f32 s[r] at +4r, f32 o[r] at +16 + 4r, then 4 vectors of 16 bytes at
 * +32 + 16c: the low nibble of byte chunkByte(r, i) is row r's code for k = 32b + 8c + i, the high nibble
 * its code for k = 32b + 8c + 4 + i.
 */
export function q4PackPanel(type: i32, w: usize, K: i32, n: i32, cnt: i32, dst: usize): void {
  const rb = rowBytes(type, K);
  memory.fill(dst, 0, q4PanelBytes(K));
  for (let r = 0; r < cnt; r++) {
    const row = w + <usize>(n + r) * rb;
    for (let b = 0; b < (K >> 5); b++) {
      const o = dst + <usize>b * 96;
      store<f32>(o + (<usize>r << 2), scaleA(type, row, b));
      store<f32>(o + 16 + (<usize>r << 2), offsetO(type, row, b));
      for (let c = 0; c < 4; c++) {
        for (let i = 0; i < 4; i++) {
          const lo = code4(type, row, b, 8 * c + i), hi = code4(type, row, b, 8 * c + 4 + i);
          store<u8>(o + 32 + (<usize>c << 4) + <usize>chunkByte(r, i), <u8>(lo | (hi << 4)));
        }
      }
    }
  }
}

/**
 * Relaxed: acc (i16 lanes) + the pair sums of one stored chunk: its low nibbles (lo) times the token
 * row's 4 codes xl (broadcast), its high nibbles (hi) times the next 4, xh. Pair sums <= 3810 each, so
 * the 8 of a block add up in i16 (<= 30480 < 2^15) before one widening.
 */
// @ts-ignore: decorator
@inline function dot8(acc: v128, xl: v128, xh: v128, lo: v128, hi: v128): v128 {
  return i16x8.add(acc, i16x8.add(i16x8.relaxed_dot_i8x16_i7x16_s(xl, lo), i16x8.relaxed_dot_i8x16_i7x16_s(xh, hi)));
}

/** Plain: acc (i32 lanes) + the chunk w (codes in plain byte order) times the token row's 4 i16 codes at p. */
// @ts-ignore: decorator
@inline function dotPlain(p: usize, w: v128, acc: v128): v128 {
  const e = i16x8.shl(w, 8);
  const o = v128.and(w, i16x8.splat(<i16>0xff00));
  return i32x4.add(acc, i32x4.add(i32x4.dot_i16x8_s(e, v128.load32_splat(p)), i32x4.dot_i16x8_s(o, v128.load32_splat(p, 4))));
}

/** acc + f32(isum) * (s * dx) + o * xsum, for one token row whose block scale is at dxp and value sum at xsp. */
// @ts-ignore: decorator
@inline function blockStep4(acc: v128, isum: v128, s: v128, o: v128, dxp: usize, xsp: usize): v128 {
  const a = f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(s, v128.load32_splat(dxp))));
  return f32x4.add(a, f32x4.mul(o, v128.load32_splat(xsp)));
}

/**
 * One tile: R (1 to 4) token rows at x0 (stride xs, quantizeRows' rows) against one panel at wp;
 * y0 = &y[t, n] (stride ys), cnt (1..4) valid output rows. As in q8Tile, the panel's 4 rows are the 4
 * lanes of every accumulator.
 */
// @ts-ignore: decorator
@inline export function q4Tile(R: i32, x0: usize, xs: usize, wp: usize, K: i32, y0: usize, ys: usize, cnt: i32): void {
  const nb = K >> 5;
  // The nibble mask from a value the optimiser cannot fold: as a constant, binaryen inlines it at every
  // use and V8 rebuilds a v128 constant there (several instructions each), inside the innermost loop.
  const m4 = i8x16.splat(<i8>(15 | (K >>> 31)));
  const ones = pairsOfPairs(K); // i16 1s for the block's widening (q8.ts dot7)
  let f0 = f32x4.splat(0), f1 = f0, f2 = f0, f3 = f0;
  const x1 = x0 + xs, x2 = x1 + xs, x3 = x2 + xs;
  let s = x0 + (<usize>K << 1); // row 0's block scales; value sums at s + 8 nb (other rows: + r * xs)
  const sumOff = <usize>nb << 3;
  let xo: usize = 0; // offset of the block's codes within a row
  for (let b = 0; b < nb; b++) {
    let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    if (ASC_FEATURE_RELAXED_SIMD) {
      // A loop over the block's 4 stored chunks, not written out: written out, binaryen hoists all 8
      // unpacked chunks and they no longer fit the registers. The high nibbles' codes are at +4, the
      // loads' constant offset.
      let p0 = x0 + xo, p1 = x1 + xo, p2 = x2 + xo, p3 = x3 + xo;
      let q = wp + 32;
      const qe = q + 64;
      while (q < qe) {
        const v = v128.load(q);
        const lo = v128.and(v, m4), hi = v128.and(i16x8.shr_u(v, 4), m4);
        a0 = dot8(a0, v128.load32_splat(p0), v128.load32_splat(p0, 4), lo, hi);
        if (R > 1) a1 = dot8(a1, v128.load32_splat(p1), v128.load32_splat(p1, 4), lo, hi);
        if (R > 2) a2 = dot8(a2, v128.load32_splat(p2), v128.load32_splat(p2, 4), lo, hi);
        if (R > 3) a3 = dot8(a3, v128.load32_splat(p3), v128.load32_splat(p3, 4), lo, hi);
        q += 16;
        p0 += 8;
        p1 += 8;
        p2 += 8;
        p3 += 8;
      }
      a0 = i32x4.dot_i16x8_s(a0, ones);
      if (R > 1) a1 = i32x4.dot_i16x8_s(a1, ones);
      if (R > 2) a2 = i32x4.dot_i16x8_s(a2, ones);
      if (R > 3) a3 = i32x4.dot_i16x8_s(a3, ones);
      xo += 32;
    } else {
      // Codes as i16 (times 256 after the byte split), the token row's i16 code pairs broadcast.
      let q = wp + 32;
      let p0 = x0 + xo, p1 = x1 + xo, p2 = x2 + xo, p3 = x3 + xo;
      for (let c = 0; c < 4; c++) {
        const v = v128.load(q);
        const lo = v128.and(v, m4);
        const hi = v128.and(i16x8.shr_u(v, 4), m4);
        a0 = dotPlain(p0 + 8, hi, dotPlain(p0, lo, a0));
        if (R > 1) a1 = dotPlain(p1 + 8, hi, dotPlain(p1, lo, a1));
        if (R > 2) a2 = dotPlain(p2 + 8, hi, dotPlain(p2, lo, a2));
        if (R > 3) a3 = dotPlain(p3 + 8, hi, dotPlain(p3, lo, a3));
        q += 16;
        p0 += 16;
        p1 += 16;
        p2 += 16;
        p3 += 16;
      }
      xo += 64;
    }
    const sw = v128.load(wp), ow = v128.load(wp, 16);
    f0 = blockStep4(f0, a0, sw, ow, s, s + sumOff);
    if (R > 1) f1 = blockStep4(f1, a1, sw, ow, s + xs, s + xs + sumOff);
    if (R > 2) f2 = blockStep4(f2, a2, sw, ow, s + 2 * xs, s + 2 * xs + sumOff);
    if (R > 3) f3 = blockStep4(f3, a3, sw, ow, s + 3 * xs, s + 3 * xs + sumOff);
    wp += 96;
    s += 4;
  }
  storeLanes(y0, f0, cnt);
  if (R > 1) storeLanes(y0 + ys, f1, cnt);
  if (R > 2) storeLanes(y0 + 2 * ys, f2, cnt);
  if (R > 3) storeLanes(y0 + 3 * ys, f3, cnt);
}

/**
 * R (1 or 2) token rows at x0 (stride xs) against two panels (at wa and wb; outputs at ya and yb, stride
 * ys, cntA and cntB valid rows): a lone row (T = 1, a decoding step; a block's remainder row) or a block
 * of two rows. The rows' broadcast codes serve both panels, and the panels' sums are independent chains,
 * so the core overlaps them; each output gets exactly q4Tile's operations in q4Tile's order (the same
 * bits). Relaxed build only: the plain build runs q4Tile panel by panel.
 */
// @ts-ignore: decorator
@inline export function q4TilePair(R: i32, x0: usize, xs: usize, wa: usize, wb: usize, K: i32, ya: usize, yb: usize, ys: usize, cntA: i32, cntB: i32): void {
  const nb = K >> 5;
  const m4 = i8x16.splat(<i8>(15 | (K >>> 31)));
  const ones = pairsOfPairs(K);
  let fa0 = f32x4.splat(0), fb0 = fa0, fa1 = fa0, fb1 = fa0;
  let s = x0 + (<usize>K << 1); // row 0's block scales; value sums at s + 8 nb (row 1: + xs)
  const sumOff = <usize>nb << 3;
  let p = x0;
  for (let b = 0; b < nb; b++) {
    let aa0 = i32x4.splat(0), ab0 = aa0, aa1 = aa0, ab1 = aa0;
    let qa = wa + 32, qb = wb + 32;
    const qe = qa + 64;
    while (qa < qe) {
      const va = v128.load(qa), vb = v128.load(qb);
      const la = v128.and(va, m4), ha = v128.and(i16x8.shr_u(va, 4), m4);
      const lb = v128.and(vb, m4), hb = v128.and(i16x8.shr_u(vb, 4), m4);
      const xl = v128.load32_splat(p), xh = v128.load32_splat(p, 4);
      aa0 = dot8(aa0, xl, xh, la, ha);
      ab0 = dot8(ab0, xl, xh, lb, hb);
      if (R > 1) {
        const yl = v128.load32_splat(p + xs), yh = v128.load32_splat(p + xs, 4);
        aa1 = dot8(aa1, yl, yh, la, ha);
        ab1 = dot8(ab1, yl, yh, lb, hb);
      }
      qa += 16;
      qb += 16;
      p += 8;
    }
    const swa = v128.load(wa), owa = v128.load(wa, 16), swb = v128.load(wb), owb = v128.load(wb, 16);
    fa0 = blockStep4(fa0, i32x4.dot_i16x8_s(aa0, ones), swa, owa, s, s + sumOff);
    fb0 = blockStep4(fb0, i32x4.dot_i16x8_s(ab0, ones), swb, owb, s, s + sumOff);
    if (R > 1) {
      fa1 = blockStep4(fa1, i32x4.dot_i16x8_s(aa1, ones), swa, owa, s + xs, s + xs + sumOff);
      fb1 = blockStep4(fb1, i32x4.dot_i16x8_s(ab1, ones), swb, owb, s + xs, s + xs + sumOff);
    }
    wa += 96;
    wb += 96;
    s += 4;
  }
  storePairLanes(R, ya, yb, ys, fa0, fb0, fa1, fb1, cntA, cntB);
}
