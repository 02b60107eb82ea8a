import { dot, hsum, madd } from "./dot";
import { expf4 } from "./expf";

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
      // Scores of the visible keys. Eight keys at a time: their dot products are eight independent chains
      // of the same operations in the same order as dot(), so they overlap instead of waiting on one
      // another's latency; an invisible key's score is computed with the others and never read.
      const kh = k + kvOff;
      let j = 0;
      for (; j + 8 <= nKeys; j += 8) dots8(qh, kh + <usize>j * kvStride, kvStride, headDim, scale, scores + (<usize>j << 2));
      for (; j < nKeys; j++) {
        if (load<u8>(m + j)) store<f32>(scores + (<usize>j << 2), dot(qh, kh + <usize>j * kvStride, headDim) * scale);
      }
      // Their maximum, in key order.
      let max = -Infinity as f32;
      let any = false;
      for (j = 0; j < nKeys; j++) {
        if (!load<u8>(m + j)) continue;
        const s = load<f32>(scores + (<usize>j << 2));
        if (!any || s > max) max = s;
        any = true;
      }
      if (!any) {
        memory.fill(oh, 0, headBytes);
        continue;
      }
      // Weights and their sum, in key order: expf four keys at a time (expf4, bit for bit the scalar
      // expf; an invisible key's weight is computed with the others and never read).
      let sum: f32 = 0;
      const mv = f32x4.splat(max);
      j = 0;
      for (; j + 4 <= nKeys; j += 4) {
        const sp = scores + (<usize>j << 2);
        v128.store(sp, expf4(f32x4.sub(v128.load(sp), mv)));
        for (let i = j; i < j + 4; i++) if (load<u8>(m + i)) sum += load<f32>(scores + (<usize>i << 2));
      }
      for (; j < nKeys; j++) {
        if (!load<u8>(m + j)) continue;
        const p = Mathf.exp(load<f32>(scores + (<usize>j << 2)) - max);
        store<f32>(scores + (<usize>j << 2), p);
        sum += p;
      }
      // o = sum_j p_j v_j in key order, then o * (1 / sum). Each f32x4 lane is its own sum (the same
      // operations in the same order whatever the chunking), so the head is done in chunks of 32 dims
      // held in registers across the keys, rather than read and written back at every key.
      const inv = f32x4.splat(<f32>1 / sum);
      const vBase = v + kvOff;
      let i: usize = 0;
      for (; i + 128 <= headBytes; i += 128) weightedSum8(m, scores, vBase + i, kvStride, nKeys, inv, oh + i);
      for (; i < headBytes; i += 16) weightedSum1(m, scores, vBase + i, kvStride, nKeys, inv, oh + i);
    }
  }
}

/** out[0..8) (f32x4 each) = (sum over visible j, in order, of p_j * v_j[0..8)) * inv; v_j at v + j * stride. */
function weightedSum8(m: usize, p: usize, v: usize, stride: usize, nKeys: i32, inv: v128, out: usize): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (let j = 0; j < nKeys; j++) {
    if (!load<u8>(m + j)) continue;
    const w = v128.load32_splat(p + (<usize>j << 2));
    const r = v + <usize>j * stride;
    a0 = f32x4.add(a0, f32x4.mul(w, v128.load(r)));
    a1 = f32x4.add(a1, f32x4.mul(w, v128.load(r, 16)));
    a2 = f32x4.add(a2, f32x4.mul(w, v128.load(r, 32)));
    a3 = f32x4.add(a3, f32x4.mul(w, v128.load(r, 48)));
    a4 = f32x4.add(a4, f32x4.mul(w, v128.load(r, 64)));
    a5 = f32x4.add(a5, f32x4.mul(w, v128.load(r, 80)));
    a6 = f32x4.add(a6, f32x4.mul(w, v128.load(r, 96)));
    a7 = f32x4.add(a7, f32x4.mul(w, v128.load(r, 112)));
  }
  v128.store(out, f32x4.mul(a0, inv));
  v128.store(out, f32x4.mul(a1, inv), 16);
  v128.store(out, f32x4.mul(a2, inv), 32);
  v128.store(out, f32x4.mul(a3, inv), 48);
  v128.store(out, f32x4.mul(a4, inv), 64);
  v128.store(out, f32x4.mul(a5, inv), 80);
  v128.store(out, f32x4.mul(a6, inv), 96);
  v128.store(out, f32x4.mul(a7, inv), 112);
}

/** weightedSum8 for one f32x4 (a head whose size is not a multiple of 32). */
function weightedSum1(m: usize, p: usize, v: usize, stride: usize, nKeys: i32, inv: v128, out: usize): void {
  let a = f32x4.splat(0);
  for (let j = 0; j < nKeys; j++) {
    if (!load<u8>(m + j)) continue;
    a = f32x4.add(a, f32x4.mul(v128.load32_splat(p + (<usize>j << 2)), v128.load(v + <usize>j * stride)));
  }
  v128.store(out, f32x4.mul(a, inv));
}

/**
 * out[i] = dot(q, key i) * scale for the 8 keys at k + i * stride (i < 8): each exactly dot()'s operations
 * in dot()'s order (lane sums in increasing k, then the fixed horizontal sum), 8 chains side by side.
 */
function dots8(q: usize, k: usize, stride: usize, headDim: i32, scale: f32, out: usize): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  const k1 = k + stride, k2 = k1 + stride, k3 = k2 + stride, k4 = k3 + stride, k5 = k4 + stride, k6 = k5 + stride, k7 = k6 + stride;
  const bytes = <usize>headDim << 2;
  for (let i: usize = 0; i < bytes; i += 16) {
    const x = v128.load(q + i);
    a0 = madd(x, v128.load(k + i), a0);
    a1 = madd(x, v128.load(k1 + i), a1);
    a2 = madd(x, v128.load(k2 + i), a2);
    a3 = madd(x, v128.load(k3 + i), a3);
    a4 = madd(x, v128.load(k4 + i), a4);
    a5 = madd(x, v128.load(k5 + i), a5);
    a6 = madd(x, v128.load(k6 + i), a6);
    a7 = madd(x, v128.load(k7 + i), a7);
  }
  store<f32>(out, hsum(a0) * scale);
  store<f32>(out, hsum(a1) * scale, 4);
  store<f32>(out, hsum(a2) * scale, 8);
  store<f32>(out, hsum(a3) * scale, 12);
  store<f32>(out, hsum(a4) * scale, 16);
  store<f32>(out, hsum(a5) * scale, 20);
  store<f32>(out, hsum(a6) * scale, 24);
  store<f32>(out, hsum(a7) * scale, 28);
}
