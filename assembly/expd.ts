// exp in f64, fdlibm's algorithm (__ieee754_exp, the one V8's Math.exp computes): the same steps, so
// the same bits as Math.exp in Node and Chromium (test/kernels.ops.test.ts sweeps it). Sampling weighs
// every id with it (spec/decoding.md, logitWeights): in the core, beside the gather of each id's logit
// and the running total, it is a little faster than Math.exp from TypeScript, and the same on every
// JavaScript engine (the language leaves Math.exp's last bit to each).
//
// The method: x = k ln2 + r with |r| <= ln2 / 2 (ln2 split in two parts, so k * LN2_HI is exact),
// exp(r) = 1 + r + r c(r) / (2 - c(r)) with c a degree-5 polynomial in r^2, then 2^k by the exponent.

const LN2_HI: f64 = reinterpret<f64>(0x3FE62E42FEE00000);
const LN2_LO: f64 = reinterpret<f64>(0x3DEA39EF35793C76);
const INV_LN2: f64 = reinterpret<f64>(0x3FF71547652B82FE);
const P1: f64 = reinterpret<f64>(0x3FC555555555553E);
const P2: f64 = reinterpret<f64>(0xBF66C16C16BEBD93);
const P3: f64 = reinterpret<f64>(0x3F11566AAF25DE2C);
const P4: f64 = reinterpret<f64>(0xBEBBBD41C5D26BF1);
const P5: f64 = reinterpret<f64>(0x3E66376972BEA4D0);
const OVERFLOW_ABOVE: f64 = reinterpret<f64>(0x40862E42FEFA39EF); // ~709.78
const UNDERFLOW_BELOW: f64 = reinterpret<f64>(0xC0874910D52D3051); // ~-745.13
const TWO_M1000: f64 = reinterpret<f64>(0x0170000000000000); // 2^-1000
const TWO_1023: f64 = reinterpret<f64>(0x7FE0000000000000);
const E: f64 = reinterpret<f64>(0x4005BF0A8B145769); // exp(1): V8 returns Math.E there (the steps below miss its last bit)

/** e^x, bit for bit Math.exp (fdlibm). Inlined: as a call per id it ran 2x slower in the weights loop. */
// @ts-ignore: decorator
@inline export function expd(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  const negative = <u32>(bits >>> 63);
  const hx = <u32>(bits >>> 32) & 0x7FFFFFFF; // high word of |x|
  if (hx >= 0x40862E42) {
    // |x| >= ~709.78: NaN, infinities, overflow and underflow.
    if (hx >= 0x7FF00000) {
      if (((hx & 0xFFFFF) | <u32>bits) != 0) return x + x; // NaN
      return negative ? 0.0 : x;
    }
    if (x > OVERFLOW_ABOVE) return Infinity;
    if (x < UNDERFLOW_BELOW) return 0.0;
  }
  let hi = 0.0, lo = 0.0, k: i32 = 0;
  if (hx > 0x3FD62E42) {
    // |x| > ln2 / 2: reduce.
    if (hx < 0x3FF0A2B2) {
      // |x| < 1.5 ln2: k = +-1.
      if (x == 1.0) return E;
      hi = negative ? x + LN2_HI : x - LN2_HI;
      lo = negative ? -LN2_LO : LN2_LO;
      k = negative ? -1 : 1;
    } else {
      k = <i32>(INV_LN2 * x + (negative ? -0.5 : 0.5)); // truncation toward zero, as C's (int)
      const t = <f64>k;
      hi = x - t * LN2_HI;
      lo = t * LN2_LO;
    }
    x = hi - lo;
  } else if (hx < 0x3E300000) {
    return 1.0 + x; // |x| < 2^-28
  }
  const t = x * x;
  const c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k == 0) return 1.0 - ((x * c) / (c - 2.0) - x);
  const y = 1.0 - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * TWO_1023;
    return y * reinterpret<f64>(<u64>(0x3FF00000 + (<u32>k << 20)) << 32);
  }
  return y * reinterpret<f64>(<u64>(0x3FF00000 + (<u32>(k + 1000) << 20)) << 32) * TWO_M1000;
}

const VECTOR_BELOW: f64 = 700; // |x| < 700: k >= -1010, a normal 2^k (no subnormal result, no overflow)
const REDUCE_FROM: f64 = reinterpret<f64>(0x3FF0A2B200000000); // |x| >= 1.5 ln2 (high word 0x3FF0A2B2): the general reduction

/**
 * expd on two lanes at once, bit for bit expd lane by lane: where both lanes take expd's general path
 * (1.5 ln2 <= |x| < 700) its f64 steps run on f64x2, which IEEE defines exactly as the scalar ones (k
 * truncated toward zero by f64x2.trunc, 2^k built in the exponent bits); any other pair (small |x|,
 * huge |x|, NaN, infinities) goes lane by lane through expd.
 */
// @ts-ignore: decorator
@inline export function expd2(x: v128): v128 {
  const ax = f64x2.abs(x);
  const general = v128.and(f64x2.ge(ax, f64x2.splat(REDUCE_FROM)), f64x2.lt(ax, f64x2.splat(VECTOR_BELOW)));
  if (!i64x2.all_true(general)) {
    return f64x2.replace_lane(f64x2.splat(expd(f64x2.extract_lane(x, 0))), 1, expd(f64x2.extract_lane(x, 1)));
  }
  const half = v128.bitselect(f64x2.splat(-0.5), f64x2.splat(0.5), f64x2.lt(x, f64x2.splat(0)));
  const kf = f64x2.trunc(f64x2.add(f64x2.mul(f64x2.splat(INV_LN2), x), half));
  const hi = f64x2.sub(x, f64x2.mul(kf, f64x2.splat(LN2_HI)));
  const lo = f64x2.mul(kf, f64x2.splat(LN2_LO));
  const r = f64x2.sub(hi, lo);
  const t = f64x2.mul(r, r);
  let p = f64x2.add(f64x2.splat(P4), f64x2.mul(t, f64x2.splat(P5)));
  p = f64x2.add(f64x2.splat(P3), f64x2.mul(t, p));
  p = f64x2.add(f64x2.splat(P2), f64x2.mul(t, p));
  p = f64x2.add(f64x2.splat(P1), f64x2.mul(t, p));
  const c = f64x2.sub(r, f64x2.mul(t, p));
  const q = f64x2.div(f64x2.mul(r, c), f64x2.sub(f64x2.splat(2.0), c));
  const y = f64x2.sub(f64x2.splat(1.0), f64x2.sub(f64x2.sub(lo, q), hi));
  // 2^k: (0x3FF + k) << 52 as the f64's bits (k in [-1010, 1010]).
  const k = i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(kf));
  const twopk = i64x2.add(i64x2.shl(k, 52), i64x2.splat(0x3FF0000000000000));
  return f64x2.mul(y, twopk);
}
