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
    // The row's leading run of visible keys (the committed prefix, and more): its keys need no mask byte
    // read in the loops below, which then go over [0, run) unchecked and over [run, nKeys) checked. The
    // same keys in the same order: the same bits.
    let run = 0;
    while (run < nKeys && load<u8>(m + run)) run++;
    for (let h = h0; h < h1; h++) {
      const qh = q + <usize>t * qStride + <usize>h * headBytes;
      const oh = out + <usize>t * qStride + <usize>h * headBytes;
      const kvOff = <usize>(h / group) * headBytes;
      // Scores of the visible keys. Six keys at a time: their dot products are six independent chains
      // of the same operations in the same order as dot(), so they overlap instead of waiting on one
      // another's latency; an invisible key's score is computed with the others and never read, and
      // six keys none of which is visible (another mask group's, in training) are skipped.
      sixes(qh, k + kvOff, kvStride, headDim, scale, scores, m, run, nKeys);
      // Their maximum, in key order (the first visible score, then every later one that is larger).
      let j = 0;
      let max = -Infinity as f32;
      let any = run > 0;
      if (any) {
        max = load<f32>(scores);
        for (j = 1; j < run; j++) {
          const s = load<f32>(scores + (<usize>j << 2));
          if (s > max) max = s;
        }
      }
      for (j = run; j < nKeys; j++) {
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
      for (; j + 4 <= run; j += 4) {
        const sp = scores + (<usize>j << 2);
        const e = expf4(f32x4.sub(v128.load(sp), mv));
        v128.store(sp, e);
        sum += f32x4.extract_lane(e, 0);
        sum += f32x4.extract_lane(e, 1);
        sum += f32x4.extract_lane(e, 2);
        sum += f32x4.extract_lane(e, 3);
      }
      for (; j + 4 <= nKeys; j += 4) {
        const sp = scores + (<usize>j << 2);
        v128.store(sp, expf4(f32x4.sub(v128.load(sp), mv)));
        for (let i = j; i < j + 4; i++) if (i < run || load<u8>(m + i)) sum += load<f32>(scores + (<usize>i << 2));
      }
      for (; j < nKeys; j++) {
        if (j >= run && !load<u8>(m + j)) continue;
        const p = Mathf.exp(load<f32>(scores + (<usize>j << 2)) - max);
        store<f32>(scores + (<usize>j << 2), p);
        sum += p;
      }
      // o = sum_j p_j v_j in key order, then o * (1 / sum). Each f32x4 lane is its own sum (the same
      // operations in the same order whatever the chunking), so the head is done in chunks of 16 dims
      // held in registers across the keys, rather than read and written back at every key.
      const inv = <f32>1 / sum;
      const vBase = v + kvOff;
      let i: usize = 0;
      for (; i + 64 <= headBytes; i += 64) weightedSum4(m, run, scores, vBase + i, kvStride, nKeys, inv, oh + i);
      for (; i < headBytes; i += 16) weightedSum1(m, run, scores, vBase + i, kvStride, nKeys, inv, oh + i);
    }
  }
}

/** acc + w * v, rounded then added (both builds): one key's term of a weighted sum. */
// @ts-ignore: decorator
@inline function term(acc: v128, w: v128, v: v128): v128 {
  return f32x4.add(acc, f32x4.mul(w, v));
}

/**
 * out[0..4) (f32x4 each) = (sum over visible j, in order, of p_j * v_j[0..4)) * scale; v_j at v + j * stride.
 * Keys [0, run) are visible (no mask byte is read), two per iteration: each accumulator still takes key
 * j's term before key j + 1's. Four accumulators, not eight: two keys' eight chunks and four accumulators
 * fit V8's vector registers; eight accumulators spilled to the stack (18% slower attention).
 */
export function weightedSum4(m: usize, run: i32, p: usize, v: usize, stride: usize, nKeys: i32, scale: f32, out: usize): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let r = v, pj = p;
  const pairs = p + (<usize>(run & ~1) << 2);
  while (pj < pairs) {
    const w = v128.load32_splat(pj), x = v128.load32_splat(pj, 4), s = r + stride;
    a0 = term(term(a0, w, v128.load(r)), x, v128.load(s));
    a1 = term(term(a1, w, v128.load(r, 16)), x, v128.load(s, 16));
    a2 = term(term(a2, w, v128.load(r, 32)), x, v128.load(s, 32));
    a3 = term(term(a3, w, v128.load(r, 48)), x, v128.load(s, 48));
    pj += 8;
    r = s + stride;
  }
  for (let j = run & ~1; j < nKeys; j++) {
    if (j >= run && !load<u8>(m + j)) continue;
    const w = v128.load32_splat(p + (<usize>j << 2));
    const rj = v + <usize>j * stride;
    a0 = term(a0, w, v128.load(rj));
    a1 = term(a1, w, v128.load(rj, 16));
    a2 = term(a2, w, v128.load(rj, 32));
    a3 = term(a3, w, v128.load(rj, 48));
  }
  const inv = f32x4.splat(scale);
  v128.store(out, f32x4.mul(a0, inv));
  v128.store(out, f32x4.mul(a1, inv), 16);
  v128.store(out, f32x4.mul(a2, inv), 32);
  v128.store(out, f32x4.mul(a3, inv), 48);
}

/** weightedSum4 for one f32x4 (a head whose size is not a multiple of 16). */
export function weightedSum1(m: usize, run: i32, p: usize, v: usize, stride: usize, nKeys: i32, scale: f32, out: usize): void {
  let a = f32x4.splat(0);
  for (let j = 0; j < nKeys; j++) {
    if (j >= run && !load<u8>(m + j)) continue;
    a = term(a, v128.load32_splat(p + (<usize>j << 2)), v128.load(v + <usize>j * stride));
  }
  v128.store(out, f32x4.mul(a, f32x4.splat(scale)));
}

/**
 * out[j] = dot(x, r_j) * scale for the visible keys j (r_j at r + j * stride; [0, run) all visible, then
 * the mask bytes at m): six keys at a time, a six with no visible key skipped; an invisible key inside a
 * computed six gets a value that is never read.
 */
export function sixes(x: usize, r: usize, stride: usize, headDim: i32, scale: f32, out: usize, m: usize, run: i32, nKeys: i32): void {
  let j = 0;
  for (; j + 6 <= nKeys; j += 6) {
    if (j + 6 > run && !(load<u32>(m + j) | load<u16>(m + j, 4))) continue;
    dots6(x, r + <usize>j * stride, stride, headDim, scale, out + (<usize>j << 2));
  }
  for (; j < nKeys; j++) {
    if (j < run || load<u8>(m + j)) store<f32>(out + (<usize>j << 2), dot(x, r + <usize>j * stride, headDim) * scale);
  }
}

/**
 * out[i] = dot(q, key i) * scale for the 6 keys at k + i * stride (i < 6): each exactly dot()'s operations
 * in dot()'s order (lane sums in increasing k, then the fixed horizontal sum), 6 chains side by side.
 * Six, not eight: 6 accumulators, the query's chunk and the 6 keys' chunks fit V8's 15 free vector
 * registers; with eight, one accumulator lived on the stack, and every multiply-add of its chain waited
 * on a store and a load (the scores took 60% of attention's time).
 */
function dots6(q: usize, k: usize, stride: usize, headDim: i32, scale: f32, out: usize): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
  let k0 = k, k1 = k0 + stride, k2 = k1 + stride, k3 = k2 + stride, k4 = k3 + stride, k5 = k4 + stride;
  const end = q + (<usize>headDim << 2);
  while (q < end) {
    const x = v128.load(q);
    a0 = madd(x, v128.load(k0), a0);
    a1 = madd(x, v128.load(k1), a1);
    a2 = madd(x, v128.load(k2), a2);
    a3 = madd(x, v128.load(k3), a3);
    a4 = madd(x, v128.load(k4), a4);
    a5 = madd(x, v128.load(k5), a5);
    q += 16;
    k0 += 16;
    k1 += 16;
    k2 += 16;
    k3 += 16;
    k4 += 16;
    k5 += 16;
  }
  store<f32>(out, hsum(a0) * scale);
  store<f32>(out, hsum(a1) * scale, 4);
  store<f32>(out, hsum(a2) * scale, 8);
  store<f32>(out, hsum(a3) * scale, 12);
  store<f32>(out, hsum(a4) * scale, 16);
  store<f32>(out, hsum(a5) * scale, 20);
}
