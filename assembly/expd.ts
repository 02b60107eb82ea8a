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
