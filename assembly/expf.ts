// expf on four f32 lanes at once, bit for bit Mathf.exp lane by lane (the one expf of the core,
// spec/kernels.md): AssemblyScript's expf_lut (musl's table-driven expf) evaluates x * 32 / ln2 = k + r and
// 2^(k/32) * (1 + C2 r + C1 r^2 + C0 r^3) in f64; here the same f64 operations run on two f64x2 halves.
// f64 adds and multiplies are IEEE in both, the widening f32 -> f64 is exact and the final narrowing
// rounds to nearest in both, so every lane equals the scalar result. Lanes outside the table path's range
// (|x| >= 88 or NaN: overflow, underflow and NaN rules) send the whole vector to the scalar function.

// 2^(i/32) as f64 bits, minus i << 47 (the table expf_lut indexes by k mod 32; src/wasm/reference.ts too).
const EXP2_TAB = memory.data<u64>([
  0x3FF0000000000000, 0x3FEFD9B0D3158574, 0x3FEFB5586CF9890F, 0x3FEF9301D0125B51,
  0x3FEF72B83C7D517B, 0x3FEF54873168B9AA, 0x3FEF387A6E756238, 0x3FEF1E9DF51FDEE1,
  0x3FEF06FE0A31B715, 0x3FEEF1A7373AA9CB, 0x3FEEDEA64C123422, 0x3FEECE086061892D,
  0x3FEEBFDAD5362A27, 0x3FEEB42B569D4F82, 0x3FEEAB07DD485429, 0x3FEEA47EB03A5585,
  0x3FEEA09E667F3BCD, 0x3FEE9F75E8EC5F74, 0x3FEEA11473EB0187, 0x3FEEA589994CCE13,
  0x3FEEACE5422AA0DB, 0x3FEEB737B0CDC5E5, 0x3FEEC49182A3F090, 0x3FEED503B23E255D,
  0x3FEEE89F995AD3AD, 0x3FEEFF76F2FB5E47, 0x3FEF199BDD85529C, 0x3FEF3720DCEF9069,
  0x3FEF5818DCFBA487, 0x3FEF7C97337B9B5F, 0x3FEFA4AFA2A490DA, 0x3FEFD0765B6E4540,
]);

/** The table path on one f64x2 half (x widened from f32). */
// @ts-ignore: decorator
@inline function expHalf(x: v128): v128 {
  const shift = f64x2.splat(reinterpret<f64>(0x4338000000000000)); // 0x1.8p+52: rounds z to an integer in the low bits
  const z = f64x2.mul(f64x2.splat(reinterpret<f64>(0x3FF71547652B82FE) * 32), x);
  const kd = f64x2.add(z, shift);
  const r = f64x2.sub(z, f64x2.sub(kd, shift));
  // s = 2^(k/32): the table entry of k mod 32 plus k << 47 in the exponent bits (u64 arithmetic).
  const k0 = <usize>i64x2.extract_lane(kd, 0) & 31, k1 = <usize>i64x2.extract_lane(kd, 1) & 31;
  const t = i64x2.replace_lane(i64x2.splat(load<u64>(EXP2_TAB + (k0 << 3))), 1, load<u64>(EXP2_TAB + (k1 << 3)));
  const s = i64x2.add(t, i64x2.shl(kd, 47));
  const c0 = f64x2.add(f64x2.mul(f64x2.splat(reinterpret<f64>(0x3FAC6AF84B912394) / 32 / 32 / 32), r), f64x2.splat(reinterpret<f64>(0x3FCEBFCE50FAC4F3) / 32 / 32));
  let y = f64x2.add(f64x2.mul(f64x2.splat(reinterpret<f64>(0x3FE62E42FF0C52D6) / 32), r), f64x2.splat(1));
  y = f64x2.add(y, f64x2.mul(c0, f64x2.mul(r, r)));
  return f64x2.mul(y, s);
}

/** [expf(x0), expf(x1), expf(x2), expf(x3)], each bit-identical to Mathf.exp. */
// @ts-ignore: decorator
@inline export function expf4(x: v128): v128 {
  // The scalar function's range test, (bits >> 20 & 0x7ff) >= 0x42b, is |bits| >= 0x42b00000.
  if (v128.any_true(i32x4.ge_u(v128.and(x, i32x4.splat(0x7fffffff)), i32x4.splat(0x42b00000)))) {
    return f32x4(Mathf.exp(f32x4.extract_lane(x, 0)), Mathf.exp(f32x4.extract_lane(x, 1)), Mathf.exp(f32x4.extract_lane(x, 2)), Mathf.exp(f32x4.extract_lane(x, 3)));
  }
  const lo = expHalf(f64x2.promote_low_f32x4(x));
  const hi = expHalf(f64x2.promote_low_f32x4(v128.shuffle<i32>(x, x, 2, 3, 2, 3)));
  return v128.shuffle<i32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/** expf4Rows(x, y, n): y[i] = expf(x[i]) for f32 [n] through expf4 (the tail through Mathf.exp); tests. */
export function expf4Rows(x: usize, y: usize, n: i32): void {
  const end = <usize>n << 2;
  const vecEnd = end & ~15;
  let i: usize = 0;
  for (; i < vecEnd; i += 16) v128.store(y + i, expf4(v128.load(x + i)));
  for (; i < end; i += 4) store<f32>(y + i, Mathf.exp(load<f32>(x + i)));
}
