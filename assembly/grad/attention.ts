import { dot } from "../dot";
import { expf4 } from "../expf";
import { sixes, weightedSum1, weightedSum4 } from "../attention";

/**
 * attentionBack(q, k, v, mask, dout, dq, dk, dv, scratch, T, nKeys, nHeads, nKvHeads, headDim, g0, g1, kv0, scale):
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
 * dk_j and dv_j only for keys j >= kv0: a caller whose keys below kv0 are constants (the adapter's
 * frozen prefix, src/train/adapter.ts) skips half the work and leaves those rows untouched.
 * A row with no visible key gets dq = 0 and adds nothing. dq of heads outside the range is not written.
 *
 * How (every value the same operations in the same order as the definition above, so the same bits):
 * the row's leading run of visible keys needs no mask byte; scores and dp_j are six keys at a time
 * (dots6: six independent dot() chains; six keys with no visible one are skipped); e_j four at a time
 * (expf4, bit for bit Mathf.exp); dq is the forward's weighted sum of rows (weightedSum4: 16 dims held
 * in registers across the keys) times 1, which is exact.
 */
export function attentionBack(
  q: usize, k: usize, v: usize, mask: usize, dout: usize, dq: usize, dk: usize, dv: usize, scratch: usize,
  T: i32, nKeys: i32, nHeads: i32, nKvHeads: i32, headDim: i32, g0: i32, g1: i32, kv0: i32, scale: f32,
): void {
  const group = nHeads / nKvHeads;
  const headBytes = <usize>headDim << 2;
  const qStride = <usize>nHeads * headBytes;
  const kvStride = <usize>nKvHeads * headBytes;
  const P = scratch; // s_j, then e_j, then p_j
  const DP = scratch + (<usize>nKeys << 2); // dp_j, then ds_j
  for (let t = 0; t < T; t++) {
    const m = mask + <usize>t * <usize>nKeys;
    let run = 0;
    while (run < nKeys && load<u8>(m + run)) run++;
    for (let h = g0 * group; h < g1 * group; h++) {
      const off = <usize>t * qStride + <usize>h * headBytes;
      const qh = q + off, doh = dout + off, dqh = dq + off;
      const kvOff = <usize>(h / group) * headBytes;
      const kh = k + kvOff, vh = v + kvOff;
      // Scores and their maximum (exactly the forward's).
      sixes(qh, kh, kvStride, headDim, scale, P, m, run, nKeys);
      let max = -Infinity as f32;
      let any = false;
      for (let j = 0; j < nKeys; j++) {
        if (j >= run && !load<u8>(m + j)) continue;
        const s = load<f32>(P + (<usize>j << 2));
        if (!any || s > max) max = s;
        any = true;
      }
      if (!any) {
        memory.fill(dqh, 0, headBytes);
        continue;
      }
      // e_j (four keys at a time; an invisible key's value is computed and never read) and their sum.
      const mv = f32x4.splat(max);
      let j = 0;
      for (; j + 4 <= nKeys; j += 4) {
        const sp = P + (<usize>j << 2);
        v128.store(sp, expf4(f32x4.sub(v128.load(sp), mv)));
      }
      for (; j < nKeys; j++) store<f32>(P + (<usize>j << 2), Mathf.exp(load<f32>(P + (<usize>j << 2)) - max));
      let sum: f32 = 0;
      for (j = 0; j < nKeys; j++) if (j < run || load<u8>(m + j)) sum += load<f32>(P + (<usize>j << 2));
      const inv = <f32>1 / sum;
      // p_j, dp_j and D.
      sixes(doh, vh, kvStride, headDim, 1, DP, m, run, nKeys);
      let dsum: f32 = 0;
      for (j = 0; j < nKeys; j++) {
        if (j >= run && !load<u8>(m + j)) continue;
        const p = load<f32>(P + (<usize>j << 2)) * inv;
        store<f32>(P + (<usize>j << 2), p);
        dsum += p * load<f32>(DP + (<usize>j << 2));
      }
      // ds_j, then dq (in registers), then dk_j and dv_j of the keys from kv0.
      for (j = 0; j < nKeys; j++) {
        if (j >= run && !load<u8>(m + j)) continue;
        const dp = DP + (<usize>j << 2);
        store<f32>(dp, (load<f32>(P + (<usize>j << 2)) * (load<f32>(dp) - dsum)) * scale);
      }
      // dq = sum_j ds_j k_j: the forward's weighted sum of rows (term by term, key order), times 1.
      let i: usize = 0;
      for (; i + 64 <= headBytes; i += 64) weightedSum4(m, run, DP, kh + i, kvStride, nKeys, 1, dqh + i);
      for (; i < headBytes; i += 16) weightedSum1(m, run, DP, kh + i, kvStride, nKeys, 1, dqh + i);
      for (j = kv0 > 0 ? kv0 : 0; j < nKeys; j++) {
        if (j >= run && !load<u8>(m + j)) continue;
        const dsv = f32x4.splat(load<f32>(DP + (<usize>j << 2))), pv = f32x4.splat(load<f32>(P + (<usize>j << 2)));
        const dkj = dk + <usize>j * kvStride + kvOff;
        const dvj = dv + <usize>j * kvStride + kvOff;
        for (let c: usize = 0; c < headBytes; c += 16) {
          v128.store(dkj + c, f32x4.add(v128.load(dkj + c), f32x4.mul(dsv, v128.load(qh + c))));
          v128.store(dvj + c, f32x4.add(v128.load(dvj + c), f32x4.mul(pv, v128.load(doh + c))));
        }
      }
    }
  }
}
