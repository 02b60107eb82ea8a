import { dot } from "../dot";

/**
 * attentionBack(q, k, v, mask, dout, dq, dk, dv, scratch, T, nKeys, nHeads, nKvHeads, headDim, g0, g1, scale):
 * backward of `attention` for the query heads of kv heads [g0, g1) (so a thread split by kv heads never
 * shares a dk / dv row).
 *   q, dout, dq: f32 [T, nHeads * headDim]; k, v, dk, dv: f32 [nKeys, nKvHeads * headDim];
 *   mask: u8 [T, nKeys] (1 = visible); scratch: f32 [2 * nKeys], owned by the caller (one per thread).
 * For every row t (increasing), kv head g, query head h of g (increasing), over the visible keys j only,
 * in key order:
 *   s_j  = dot(q, k_j) * scale, m = max s_j, e_j = expf(s_j - m), sum = e_0 + e_1 + ... (as the forward)
 *   p_j  = e_j * (1 / sum),  dp_j = dot(dout, v_j)
 *   D    = sum_j p_j * dp_j (scalar, key order)
 *   ds_j = (p_j * (dp_j - D)) * scale
 *   dq   = sum_j ds_j * k_j                 (written, f32x4 over headDim, product rounded then added)
 *   dk_j = dk_j + ds_j * q,  dv_j = dv_j + p_j * dout   (accumulated; the caller zeroes dk, dv first)
 * A row with no visible key gets dq = 0 and adds nothing. dq of heads outside the range is not written.
 */
export function attentionBack(
  q: usize, k: usize, v: usize, mask: usize, dout: usize, dq: usize, dk: usize, dv: usize, scratch: usize,
  T: i32, nKeys: i32, nHeads: i32, nKvHeads: i32, headDim: i32, g0: i32, g1: i32, scale: f32,
): void {
  const group = nHeads / nKvHeads;
  const headBytes = <usize>headDim << 2;
  const qStride = <usize>nHeads * headBytes;
  const kvStride = <usize>nKvHeads * headBytes;
  const P = scratch; // p_j
  const DP = scratch + (<usize>nKeys << 2); // dp_j, then ds_j
  for (let t = 0; t < T; t++) {
    const m = mask + <usize>t * <usize>nKeys;
    for (let h = g0 * group; h < g1 * group; h++) {
      const off = <usize>t * qStride + <usize>h * headBytes;
      const qh = q + off, doh = dout + off, dqh = dq + off;
      const kvOff = <usize>(h / group) * headBytes;
      memory.fill(dqh, 0, headBytes);
      // Scores and their maximum (exactly the forward's).
      let max = -Infinity as f32;
      let any = false;
      for (let j = 0; j < nKeys; j++) {
        if (!load<u8>(m + j)) continue;
        const s = dot(qh, k + <usize>j * kvStride + kvOff, headDim) * scale;
        store<f32>(P + (<usize>j << 2), s);
        if (!any || s > max) max = s;
        any = true;
      }
      if (!any) continue;
      let sum: f32 = 0;
      for (let j = 0; j < nKeys; j++) {
        if (!load<u8>(m + j)) continue;
        const e = Mathf.exp(load<f32>(P + (<usize>j << 2)) - max);
        store<f32>(P + (<usize>j << 2), e);
        sum += e;
      }
      const inv = <f32>1 / sum;
      // p_j, dp_j and D.
      let dsum: f32 = 0;
      for (let j = 0; j < nKeys; j++) {
        if (!load<u8>(m + j)) continue;
        const p = load<f32>(P + (<usize>j << 2)) * inv;
        const dp = dot(doh, v + <usize>j * kvStride + kvOff, headDim);
        store<f32>(P + (<usize>j << 2), p);
        store<f32>(DP + (<usize>j << 2), dp);
        dsum += p * dp;
      }
      // ds_j, then dq, dk_j, dv_j.
      for (let j = 0; j < nKeys; j++) {
        if (!load<u8>(m + j)) continue;
        const pj = load<f32>(P + (<usize>j << 2));
        const ds = (pj * (load<f32>(DP + (<usize>j << 2)) - dsum)) * scale;
        const dsv = f32x4.splat(ds), pv = f32x4.splat(pj);
        const kj = k + <usize>j * kvStride + kvOff;
        const dkj = dk + <usize>j * kvStride + kvOff;
        const dvj = dv + <usize>j * kvStride + kvOff;
        for (let i: usize = 0; i < headBytes; i += 16) {
          v128.store(dqh + i, f32x4.add(v128.load(dqh + i), f32x4.mul(dsv, v128.load(kj + i))));
          v128.store(dkj + i, f32x4.add(v128.load(dkj + i), f32x4.mul(dsv, v128.load(qh + i))));
          v128.store(dvj + i, f32x4.add(v128.load(dvj + i), f32x4.mul(pv, v128.load(doh + i))));
        }
      }
    }
  }
}
