// The int8 layout PANEL_Q8 (spec/kernels.md, "Packed layouts"): int8 weights and int8 activations, both
// with an f32 scale per row and block of 32 elements, multiplied through integer dot products.
//
// Quantisation of 32 values v (a block of one weight row, or of one activation row), with Q the largest
// code: m = max |v| (f32); if m < 2^-32 the block is zeros with scale 0; otherwise d = m / Q,
// id = 1 / d, q = clamp(trunc_sat(nearest(v * id)), -Q, Q) (f32 operations, round half to even).
// Activations use Q = 127 in both builds. Weights use Q = 127 in the plain build and Q = 63 in the
// relaxed build, stored as q + 64 in [1, 127]: relaxed SIMD's int8 dot product is only exact (the same
// on every CPU) when one operand is in [0, 127]. So the relaxed build is its own configuration.
//
// Result, per output y[t, n], with isum_b = sum over the block's 32 k of xq * wq (an exact integer, so
// the order inside a block is free) and the sum over blocks sequential, in f32, never fused:
//   acc = 0; for b = 0 .. K/32 - 1: acc = acc + f32(isum_b) * (dw[n, b] * dx[t, b])

// @ts-ignore: decorator
@inline const TINY: f32 = reinterpret<f32>(0x2f800000); // 2^-32
// @ts-ignore: decorator
@inline const INV256: f32 = reinterpret<f32>(0x3b800000); // 2^-8

/** Bytes of one 4-row panel over K (K a multiple of 32): per block, 4 f32 scales then 4 x 32 codes. */
// @ts-ignore: decorator
@inline export function q8PanelBytes(K: i32): usize {
  return <usize>(K >> 5) * 144;
}

/**
 * Bytes of one quantised activation row: K codes as i16 (plain build) or i8 then K unused bytes
 * (relaxed), then K/32 f32 scales, then K/32 i32 corrections (relaxed: -64 * the block's code sum), then
 * K/32 f32 value sums d * sum(q) (what PANEL_Q4's weight offsets multiply).
 */
// @ts-ignore: decorator
@inline export function q8RowBytes(K: i32): usize {
  return (<usize>K << 1) + <usize>(K >> 5) * 12;
}

/** max |v| over the 32 f32 at p (NaN if any is NaN). */
// @ts-ignore: decorator
@inline function absMax32(p: usize): f32 {
  let m = f32x4.abs(v128.load(p));
  for (let i: usize = 16; i < 128; i += 16) m = f32x4.max(m, f32x4.abs(v128.load(p + i)));
  return max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
}

/**
 * max |v| over the 32 f32 at p as bits: the absolute values of non-NaN floats order as their bit patterns
 * do as unsigned integers, so one integer max per vector (no NaN handling to emulate). A result above
 * 0x7f800000 means a NaN; 0x7f800000 an infinity.
 */
// @ts-ignore: decorator
@inline function absMaxBits32(p: usize): u32 {
  const abs = i32x4.splat(0x7fffffff);
  let m = v128.and(v128.load(p), abs);
  for (let i: usize = 16; i < 128; i += 16) m = i32x4.max_u(m, v128.and(v128.load(p + i), abs));
  m = i32x4.max_u(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
  m = i32x4.max_u(m, i32x4.shuffle(m, m, 1, 0, 3, 2));
  return i32x4.extract_lane(m, 0);
}

/**
 * codes() for values with |v * id| < 2^22 (a finite block: |v * id| <= 127 and a little): v * id + 1.5 *
 * 2^23 lands in [2^23, 2^24), where the f32 spacing is 1, so the addition itself rounds to an integer,
 * half to even (what nearest does), and the bits minus those of 1.5 * 2^23 are that integer. Two
 * operations instead of nearest and a saturating conversion, which x86 has no single instruction for.
 */
// @ts-ignore: decorator
@inline function codesFinite(v: v128, id: v128, Q: i32): v128 {
  const r = f32x4.add(f32x4.mul(v, id), f32x4.splat(12582912.0));
  const q = i32x4.sub(r, i32x4.splat(0x4b400000));
  return i32x4.min_s(i32x4.max_s(q, i32x4.splat(-Q)), i32x4.splat(Q));
}

/** Activation codes (Q = 127) of 4 values of a block: codesFinite for a finite block, else codes. */
// @ts-ignore: decorator
@inline function activationCodes(finite: bool, v: v128, id: v128): v128 {
  return finite ? codesFinite(v, id, 127) : codes(v, id, 127);
}

/** The codes of 4 values v given id = 1 / d, clamped to [-Q, Q]. */
// @ts-ignore: decorator
@inline function codes(v: v128, id: v128, Q: i32): v128 {
  const q = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v, id)));
  return i32x4.min_s(i32x4.max_s(q, i32x4.splat(-Q)), i32x4.splat(Q));
}

/** Quantises the 32 f32 at p in place into 32 i32 codes; returns the scale d (0 for a zero block). */
// @ts-ignore: decorator
@inline function quantBlockInPlace(p: usize, Q: i32): f32 {
  const m = absMax32(p);
  if (m < TINY) {
    memory.fill(p, 0, 128);
    return 0;
  }
  const d = m / <f32>Q;
  const id = f32x4.splat(<f32>1 / d);
  for (let i: usize = 0; i < 128; i += 16) v128.store(p + i, codes(v128.load(p + i), id, Q));
  return d;
}

/**
 * Packs one panel: rows = f32 [4, K] (overwritten with codes), dst = q8PanelBytes(K) bytes.
 * Block b at dst + 144b: f32 dw[0..4) (row r's scale), then chunks c = 0..7 of 16 bytes for k = 32b + 4c
 * + i (i < 4). Plain: byte 2j holds row j>>1, i = j&1; byte 2j+1 holds row j>>1, i = 2 + (j&1) (so the
 * low / high bytes of the i16 lanes are the k pairs (0,1) and (2,3) of each row). Relaxed: byte 4r + i
 * holds row r, code + 64.
 */
export function q8PackPanel(rows: usize, dst: usize, K: i32): void {
  const rs = <usize>K << 2;
  const Q = ASC_FEATURE_RELAXED_SIMD ? 63 : 127;
  for (let b = 0; b < (K >> 5); b++) {
    const src = rows + (<usize>b << 7);
    for (let r = 0; r < 4; r++) store<f32>(dst + (<usize>r << 2), quantBlockInPlace(src + <usize>r * rs, Q));
    for (let c = 0; c < 8; c++) {
      const o = dst + 16 + (<usize>c << 4);
      for (let r = 0; r < 4; r++) {
        const q = src + <usize>r * rs + (<usize>c << 4); // 4 i32 codes of row r
        if (ASC_FEATURE_RELAXED_SIMD) {
          for (let i = 0; i < 4; i++) store<u8>(o + (<usize>r << 2) + i, <u8>(load<i32>(q + (<usize>i << 2)) + 64));
        } else {
          store<i8>(o + (<usize>r << 2), <i8>load<i32>(q));
          store<i8>(o + (<usize>r << 2) + 2, <i8>load<i32>(q, 4));
          store<i8>(o + (<usize>r << 2) + 1, <i8>load<i32>(q, 8));
          store<i8>(o + (<usize>r << 2) + 3, <i8>load<i32>(q, 12));
        }
      }
    }
    dst += 144;
  }
}

/**
 * quantizeRows(x, xq, T, K): rows of x (f32 [T, K], K a multiple of 32) to the activation format of
 * PANEL_Q8 at xq (T rows of q8RowBytes(K) bytes, 16-byte aligned). Activations: Q = 127. The plain
 * build stores the scale as d * 2^-8 (its kernel reads its weight codes shifted left by 8 bits, a power
 * of two that cancels exactly); the relaxed build stores d and the correction -64 * sum(q).
 */
export function quantizeRows(x: usize, xq: usize, T: i32, K: i32): void {
  const nb = K >> 5;
  const S = q8RowBytes(K);
  for (let t = 0; t < T; t++) {
    const row = x + <usize>t * (<usize>K << 2);
    const out = xq + <usize>t * S;
    const scales = out + (<usize>K << 1);
    const corr = scales + (<usize>nb << 2);
    const sums = corr + (<usize>nb << 2);
    for (let b = 0; b < nb; b++) {
      const p = row + (<usize>b << 7);
      // A finite block (every activation block in practice) takes the integer maximum and codesFinite;
      // one with an infinity or a NaN the general path: the same values either way.
      const bits = absMaxBits32(p);
      const finite = bits < 0x7f800000;
      const m = finite ? reinterpret<f32>(bits) : absMax32(p);
      let d: f32 = 0;
      let q0 = i32x4.splat(0), q1 = q0, q2 = q0, q3 = q0, q4 = q0, q5 = q0, q6 = q0, q7 = q0;
      if (!(m < TINY)) {
        d = m / <f32>127;
        const id = f32x4.splat(<f32>1 / d);
        q0 = activationCodes(finite, v128.load(p), id);
        q1 = activationCodes(finite, v128.load(p, 16), id);
        q2 = activationCodes(finite, v128.load(p, 32), id);
        q3 = activationCodes(finite, v128.load(p, 48), id);
        q4 = activationCodes(finite, v128.load(p, 64), id);
        q5 = activationCodes(finite, v128.load(p, 80), id);
        q6 = activationCodes(finite, v128.load(p, 96), id);
        q7 = activationCodes(finite, v128.load(p, 112), id);
      }
      const h0 = i16x8.narrow_i32x4_s(q0, q1), h1 = i16x8.narrow_i32x4_s(q2, q3);
      const h2 = i16x8.narrow_i32x4_s(q4, q5), h3 = i16x8.narrow_i32x4_s(q6, q7);
      const s = i32x4.add(i32x4.add(i32x4.add(q0, q1), i32x4.add(q2, q3)), i32x4.add(i32x4.add(q4, q5), i32x4.add(q6, q7)));
      const sum = (i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1)) + (i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3));
      store<f32>(sums + (<usize>b << 2), d * <f32>sum); // |sum| <= 32 * 127: exact in f32
      if (ASC_FEATURE_RELAXED_SIMD) {
        const o = out + (<usize>b << 5);
        v128.store(o, i8x16.narrow_i16x8_s(h0, h1));
        v128.store(o, i8x16.narrow_i16x8_s(h2, h3), 16);
        store<f32>(scales + (<usize>b << 2), d);
        store<i32>(corr + (<usize>b << 2), -64 * sum);
      } else {
        const o = out + (<usize>b << 6);
        v128.store(o, h0);
        v128.store(o, h1, 16);
        v128.store(o, h2, 32);
        v128.store(o, h3, 48);
        store<f32>(scales + (<usize>b << 2), d * INV256);
        store<i32>(corr + (<usize>b << 2), 0);
      }
    }
  }
}

/** y[0 .. cnt) = lanes of v (a whole v128 when cnt == 4). */
// @ts-ignore: decorator
@inline export function storeLanes(y: usize, v: v128, cnt: i32): void {
  if (cnt == 4) {
    v128.store(y, v);
    return;
  }
  store<f32>(y, f32x4.extract_lane(v, 0));
  if (cnt > 1) store<f32>(y, f32x4.extract_lane(v, 1), 4);
  if (cnt > 2) store<f32>(y, f32x4.extract_lane(v, 2), 8);
}

/**
 * A pair tile's results (q4TilePair, q8TilePair): row 0's sums of panels a and b at ya and yb, and with
 * R = 2 row 1's (fa1, fb1) one row stride ys further; cntA and cntB valid lanes each.
 */
// @ts-ignore: decorator
@inline export function storePairLanes(R: i32, ya: usize, yb: usize, ys: usize, fa0: v128, fb0: v128, fa1: v128, fb1: v128, cntA: i32, cntB: i32): void {
  storeLanes(ya, fa0, cntA);
  storeLanes(yb, fb0, cntB);
  if (R > 1) {
    storeLanes(ya + ys, fa1, cntA);
    storeLanes(yb + ys, fb1, cntB);
  }
}

/**
 * acc + the 4-product sums of x codes (signed) and weight codes (in [0, 127]) per i32 lane. Written as
 * i16x8.relaxed_dot (pairs, exact: |sum| <= 2 * 127 * 127 < 2^15), then the pairs of pairs added into i32
 * lanes, rather than i32x4.relaxed_dot_i8x16_i7x16_add_s: Node 20's V8 returns twice the specified value
 * for the latter. The pairs of pairs are `dot_i16x8_s(pairs, ones)` with `ones` (i16 1s) in a register:
 * the same sums as extadd_pairwise_i16x8_s, which V8 lowers to that very instruction but with the 1s
 * loaded from memory, and their address too, at every use (pairsOfPairs).
 */
// @ts-ignore: decorator
@inline function dot7(x: v128, w: v128, acc: v128, ones: v128): v128 {
  return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(x, w), ones));
}

/**
 * i16x8 1s that stay in a register: made from K, a value the optimiser cannot fold (K >>> 31 is 0 for any
 * valid K), since a constant is rebuilt or reloaded at every use in V8's code (spec/kernels.md).
 */
// @ts-ignore: decorator
@inline export function pairsOfPairs(K: i32): v128 {
  return i16x8.splat(<i16>(1 | (K >>> 31)));
}

/** acc + isum (i32x4, lanes = the panel's 4 rows) scaled by dw (lanes) * dx (the token row's scale). */
// @ts-ignore: decorator
@inline function blockStep(acc: v128, isum: v128, dw: v128, dxp: usize): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(isum), f32x4.mul(dw, v128.load32_splat(dxp))));
}

/**
 * One tile: R (1 to 4) token rows at x0 (stride xs) against one panel at wp; y0 = &y[t, n] (stride
 * ys), cnt (1..4) valid output rows. Lanes of every accumulator are the panel's 4 output rows, so there
 * is no horizontal sum at all; the integer sum of a block never leaves its i32 lane.
 */
// @ts-ignore: decorator
@inline export function q8Tile(R: i32, x0: usize, xs: usize, wp: usize, K: i32, y0: usize, ys: usize, cnt: i32): void {
  const nb = K >> 5;
  let f0 = f32x4.splat(0), f1 = f0, f2 = f0, f3 = f0;
  const x1 = x0 + xs, x2 = x1 + xs, x3 = x2 + xs;
  let s = x0 + (<usize>K << 1); // row 0's scales (the other rows' at + r * xs)
  let xo: usize = 0; // offset of the block's codes within a row
  for (let b = 0; b < nb; b++) {
    const dw = v128.load(wp);
    let q = wp + 16;
    const qe = q + 128;
    let a0 = i32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    if (ASC_FEATURE_RELAXED_SIMD) {
      const ones = pairsOfPairs(K);
      // Start from the correction -64 * sum(xq) that removes the weights' +64 offset.
      const c = s + (<usize>nb << 2);
      a0 = v128.load32_splat(c);
      if (R > 1) a1 = v128.load32_splat(c + xs);
      if (R > 2) a2 = v128.load32_splat(c + 2 * xs);
      if (R > 3) a3 = v128.load32_splat(c + 3 * xs);
      let p0 = x0 + xo, p1 = x1 + xo, p2 = x2 + xo, p3 = x3 + xo;
      while (q < qe) {
        // Chunk: 4 k of 4 rows (row r at bytes 4r..4r+3) against the token row's 4 codes in every lane.
        const v = v128.load(q);
        a0 = dot7(v128.load32_splat(p0), v, a0, ones);
        if (R > 1) a1 = dot7(v128.load32_splat(p1), v, a1, ones);
        if (R > 2) a2 = dot7(v128.load32_splat(p2), v, a2, ones);
        if (R > 3) a3 = dot7(v128.load32_splat(p3), v, a3, ones);
        q += 16;
        p0 += 4;
        p1 += 4;
        p2 += 4;
        p3 += 4;
      }
      xo += 32;
    } else {
      // Chunk: the low bytes of the i16 lanes are k pairs (0, 1) of the 4 rows, the high bytes pairs
      // (2, 3). Shifting left / masking gives each as i16 codes times 256 (exact); the token row's pairs
      // are broadcast to every lane, and dot_i16x8_s adds each pair into its row's i32 lane.
      const mask = i16x8.splat(<i16>0xff00);
      let p0 = x0 + xo, p1 = x1 + xo, p2 = x2 + xo, p3 = x3 + xo;
      while (q < qe) {
        const v = v128.load(q);
        const e = i16x8.shl(v, 8);
        const o = v128.and(v, mask);
        a0 = i32x4.add(a0, i32x4.add(i32x4.dot_i16x8_s(e, v128.load32_splat(p0)), i32x4.dot_i16x8_s(o, v128.load32_splat(p0, 4))));
        if (R > 1) a1 = i32x4.add(a1, i32x4.add(i32x4.dot_i16x8_s(e, v128.load32_splat(p1)), i32x4.dot_i16x8_s(o, v128.load32_splat(p1, 4))));
        if (R > 2) a2 = i32x4.add(a2, i32x4.add(i32x4.dot_i16x8_s(e, v128.load32_splat(p2)), i32x4.dot_i16x8_s(o, v128.load32_splat(p2, 4))));
        if (R > 3) a3 = i32x4.add(a3, i32x4.add(i32x4.dot_i16x8_s(e, v128.load32_splat(p3)), i32x4.dot_i16x8_s(o, v128.load32_splat(p3, 4))));
        q += 16;
        p0 += 8;
        p1 += 8;
        p2 += 8;
        p3 += 8;
      }
      xo += 64;
    }
    f0 = blockStep(f0, a0, dw, s);
    if (R > 1) f1 = blockStep(f1, a1, dw, s + xs);
    if (R > 2) f2 = blockStep(f2, a2, dw, s + 2 * xs);
    if (R > 3) f3 = blockStep(f3, a3, dw, s + 3 * xs);
    wp += 144;
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
 * so the core overlaps them; each output gets exactly q8Tile's operations in q8Tile's order (the same
 * bits). Relaxed build only.
 */
// @ts-ignore: decorator
@inline export function q8TilePair(R: i32, x0: usize, xs: usize, wa: usize, wb: usize, K: i32, ya: usize, yb: usize, ys: usize, cntA: i32, cntB: i32): void {
  const nb = K >> 5;
  const ones = pairsOfPairs(K);
  let fa0 = f32x4.splat(0), fb0 = fa0, fa1 = fa0, fb1 = fa0;
  let s = x0 + (<usize>K << 1); // row 0's block scales; corrections at s + 4 nb (row 1: + xs)
  let p = x0;
  for (let b = 0; b < nb; b++) {
    // Start from the correction -64 * sum(xq) that removes the weights' +64 offset (q8Tile).
    let aa0 = v128.load32_splat(s + (<usize>nb << 2)), ab0 = aa0;
    let aa1 = aa0, ab1 = aa0;
    if (R > 1) {
      aa1 = v128.load32_splat(s + xs + (<usize>nb << 2));
      ab1 = aa1;
    }
    let qa = wa + 16, qb = wb + 16;
    const qe = qa + 128;
    while (qa < qe) {
      const va = v128.load(qa), vb = v128.load(qb);
      const x = v128.load32_splat(p);
      aa0 = dot7(x, va, aa0, ones);
      ab0 = dot7(x, vb, ab0, ones);
      if (R > 1) {
        const z = v128.load32_splat(p + xs);
        aa1 = dot7(z, va, aa1, ones);
        ab1 = dot7(z, vb, ab1, ones);
      }
      qa += 16;
      qb += 16;
      p += 4;
    }
    const dwa = v128.load(wa), dwb = v128.load(wb);
    fa0 = blockStep(fa0, aa0, dwa, s);
    fb0 = blockStep(fb0, ab0, dwb, s);
    if (R > 1) {
      fa1 = blockStep(fa1, aa1, dwa, s + xs);
      fb1 = blockStep(fb1, ab1, dwb, s + xs);
    }
    wa += 144;
    wb += 144;
    s += 4;
  }
  storePairLanes(R, ya, yb, ys, fa0, fb0, fa1, fb1, cntA, cntB);
}
