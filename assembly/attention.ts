import { dot } from "./dot";

/**
 * attention(q, k, v, mask, out, scores, T, nKeys, nHeads, nKvHeads, headDim, h0, h1, scale)
 *   q, out: f32 [T, nHeads * headDim]; k, v: f32 [nKeys, nKvHeads * headDim]; mask: u8 [T, nKeys]
 *   (1 = visible); scores: f32 [nKeys] scratch owned by the caller (one per thread). headDim % 4 == 0.
 * For heads [h0, h1) (grouped-query: head h reads kv head h / (nHeads / nKvHeads)) and every row t:
 *   s_j = dot(q, k_j) * scale over the visible j, m = max s_j, p_j = expf(s_j - m), sum in key order,
 *   o = sum_j p_j * v_j in key order (f32x4 over headDim, product rounded then added, in both builds),
 *   out = o * (1 / sum). A row with no visible key gets zeros.
 * Invisible keys are skipped, never added as zeros, so hidden rows between keys and KV compaction leave a
 * row's result unchanged.
 */
export function attention(
  q: usize, k: usize, v: usize, mask: usize, out: usize, scores: usize,
  T: i32, nKeys: i32, nHeads: i32, nKvHeads: i32, headDim: i32, h0: i32, h1: i32, scale: f32,
): void {
  const group = nHeads / nKvHeads;
  const headBytes = <usize>headDim << 2;
  const qStride = <usize>nHeads * headBytes;
  const kvStride = <usize>nKvHeads * headBytes;
  for (let t = 0; t < T; t++) {
    const m = mask + <usize>t * <usize>nKeys;
    for (let h = h0; h < h1; h++) {
      const qh = q + <usize>t * qStride + <usize>h * headBytes;
      const oh = out + <usize>t * qStride + <usize>h * headBytes;
      const kvOff = <usize>(h / group) * headBytes;
      // Scores of the visible keys, and their maximum.
      let max = -Infinity as f32;
      let any = false;
      for (let j = 0; j < nKeys; j++) {
        if (!load<u8>(m + j)) continue;
        const s = dot(qh, k + <usize>j * kvStride + kvOff, headDim) * scale;
        store<f32>(scores + (<usize>j << 2), s);
        if (!any || s > max) max = s;
        any = true;
      }
      if (!any) {
        memory.fill(oh, 0, headBytes);
        continue;
      }
      // Weights and their sum, in key order.
      let sum: f32 = 0;
      for (let j = 0; j < nKeys; j++) {
        if (!load<u8>(m + j)) continue;
        const p = Mathf.exp(load<f32>(scores + (<usize>j << 2)) - max);
        store<f32>(scores + (<usize>j << 2), p);
        sum += p;
      }
      // o = sum_j p_j v_j in key order, accumulated in out's own row (f32x4 lanes are independent).
      memory.fill(oh, 0, headBytes);
      for (let j = 0; j < nKeys; j++) {
        if (!load<u8>(m + j)) continue;
        const p = f32x4.splat(load<f32>(scores + (<usize>j << 2)));
        const vj = v + <usize>j * kvStride + kvOff;
        for (let i: usize = 0; i < headBytes; i += 16) {
          v128.store(oh + i, f32x4.add(v128.load(oh + i), f32x4.mul(p, v128.load(vj + i))));
        }
      }
      const inv = f32x4.splat(<f32>1 / sum);
      for (let i: usize = 0; i < headBytes; i += 16) v128.store(oh + i, f32x4.mul(v128.load(oh + i), inv));
    }
  }
}
