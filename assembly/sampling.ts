import { expd, expd2 } from "./expd";

// Sampling's sweeps over a whole vocabulary (spec/decoding.md), in the core: the ids by descending logit
// (logitOrder), their weights exp((logit - max) / temperature) with their total in that order
// (logitWeights), and the top-p road's total in id order (logitTotal).
//
// logitOrder is the order in which the sampling rule sums the weights and walks the cumulative
// distribution, the same as src/decode/sampling.ts's byDescendingLogit, which stays the reference:
// eligible ids (logit finite or +inf, not -inf, not NaN, >= floor, not banned) in increasing id order get
// a 32-bit key that grows as the logit falls (-0 ties with +0), then a stable LSD radix sort of three
// 11-bit digits orders them by key, ties keeping the lower id first. (Two 16-bit digits measured no
// faster on SmolLM2's rows.)

const DIGIT_BITS = 11;
const DIGITS = 1 << DIGIT_BITS;
const DIGIT_MASK: u32 = DIGITS - 1;

/**
 * Writes the eligible ids of logits: f32 [n], by descending logit, to out: i32 [n]; returns how many.
 * floor: f64 (-inf for none; compared after the exact widening of each logit, as the reference does);
 * banned: u8 [n] (1 = never eligible) or 0 for none; scratch: logitOrderScratch(n) bytes (two u64
 * arrays of n entries, key << 32 | id, and the three digits' counts, all taken in the first pass).
 */
export function logitOrder(logits: usize, n: i32, floor: f64, banned: usize, out: usize, scratch: usize): i32 {
  const a = scratch, b = a + (<usize>n << 3), count = b + (<usize>n << 3);
  memory.fill(count, 0, 3 * DIGITS << 2);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const v = load<f32>(logits + (<usize>i << 2));
    if (!(v > -Infinity && <f64>v >= floor)) continue;
    if (banned != 0 && load<u8>(banned + <usize>i) != 0) continue;
    // f32 bits -> an unsigned rank growing with the value (negative values: all bits flipped; -0 is +0),
    // complemented so that ascending keys are descending logits.
    const bits: u32 = v == 0 ? 0 : reinterpret<u32>(v);
    const key: u32 = bits & 0x80000000 ? bits : ~(bits | 0x80000000);
    store<u64>(a + (<usize>m << 3), (<u64>key << 32) | <u64>i);
    bump(count, key & DIGIT_MASK);
    bump(count + (DIGITS << 2), (key >>> DIGIT_BITS) & DIGIT_MASK);
    bump(count + (DIGITS << 3), key >>> (2 * DIGIT_BITS));
    m++;
  }
  // Three stable counting-sort passes, lowest digit first: a -> b -> a, then the ids alone into out.
  radixPass(a, b, 0, count, m, 32);
  radixPass(b, a, 0, count + (DIGITS << 2), m, 32 + DIGIT_BITS);
  radixPass(a, 0, out, count + (DIGITS << 3), m, 32 + 2 * DIGIT_BITS);
  return m;
}

// @ts-ignore: decorator
@inline function bump(count: usize, digit: u32): void {
  const at = count + (<usize>digit << 2);
  store<u32>(at, load<u32>(at) + 1);
}

/**
 * One stable counting-sort pass on the digit of the entries (u64 [m] at from) at bit `shift`, given the
 * digit's counts: to the entries at `to`, or (to = 0) only their ids (low 32 bits) to ids: i32 [m].
 */
function radixPass(from: usize, to: usize, ids: usize, count: usize, m: i32, shift: u64): void {
  let sum: u32 = 0;
  for (let d = 0; d < DIGITS; d++) {
    const at = count + (<usize>d << 2), c = load<u32>(at);
    store<u32>(at, sum);
    sum += c;
  }
  for (let j = 0; j < m; j++) {
    const e = load<u64>(from + (<usize>j << 3));
    const at = count + (<usize>(<u32>(e >>> shift) & DIGIT_MASK) << 2), k = <usize>load<u32>(at);
    store<u32>(at, <u32>k + 1);
    if (to != 0) store<u64>(to + (k << 3), e);
    else store<i32>(ids + (k << 2), <i32>e);
  }
}

/**
 * out[i] = exp((f64(logits[ids[i]]) - max) / temperature) for i < n (logits: f32 [nLogits], ids: i32 [n],
 * out: f64 [n]), each step an f64 operation as sampling.ts writes it (exp: expd, Math.exp's bits);
 * returns their sum, added in order from i = 0, or -1 (no sum of weights) when an id is outside the row.
 */
export function logitWeights(logits: usize, nLogits: i32, ids: usize, n: i32, max: f64, temperature: f64, out: usize): f64 {
  let total = 0.0;
  const m = f64x2.splat(max), temp = f64x2.splat(temperature);
  let i = 0;
  for (; i + 1 < n; i += 2) {
    // Two ids at a time (expd2: each lane expd's bits); the total still adds them one after the other.
    const id0 = load<i32>(ids + (<usize>i << 2)), id1 = load<i32>(ids + (<usize>i << 2), 4);
    if (<u32>id0 >= <u32>nLogits || <u32>id1 >= <u32>nLogits) return -1;
    const v = f64x2.replace_lane(f64x2.splat(<f64>load<f32>(logits + (<usize>id0 << 2))), 1, <f64>load<f32>(logits + (<usize>id1 << 2)));
    const w = expd2(f64x2.div(f64x2.sub(v, m), temp));
    v128.store(out + (<usize>i << 3), w);
    total += f64x2.extract_lane(w, 0);
    total += f64x2.extract_lane(w, 1);
  }
  if (i < n) {
    const id = load<i32>(ids + (<usize>i << 2));
    if (<u32>id >= <u32>nLogits) return -1;
    const w = expd((<f64>load<f32>(logits + (<usize>id << 2)) - max) / temperature);
    store<f64>(out + (<usize>i << 3), w);
    total += w;
  }
  return total;
}

/**
 * The sum, in id order, of exp((f64(logits[i]) - max) / temperature) over the ids i < n whose logit lies
 * in [floor, max] (NaN never): nucleusBySelection's total (sampling.ts), the same operations.
 */
export function logitTotal(logits: usize, n: i32, floor: f64, max: f64, temperature: f64): f64 {
  let total = 0.0;
  const m = f64x2.splat(max), temp = f64x2.splat(temperature);
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const v0 = <f64>load<f32>(logits + (<usize>i << 2)), v1 = <f64>load<f32>(logits + (<usize>i << 2), 4);
    const in0 = v0 >= floor && v0 <= max, in1 = v1 >= floor && v1 <= max;
    if (!(in0 || in1)) continue;
    const w = expd2(f64x2.div(f64x2.sub(f64x2.replace_lane(f64x2.splat(v0), 1, v1), m), temp));
    if (in0) total += f64x2.extract_lane(w, 0);
    if (in1) total += f64x2.extract_lane(w, 1);
  }
  if (i < n) {
    const v = <f64>load<f32>(logits + (<usize>i << 2));
    if (v >= floor && v <= max) total += expd((v - max) / temperature);
  }
  return total;
}

/** y[i] = expd(x[i]) over f64 [n], two lanes at a time as logitWeights runs it (tests: Math.exp's bits). */
export function expdRows(x: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 1 < n; i += 2) v128.store(y + (<usize>i << 3), expd2(v128.load(x + (<usize>i << 3))));
  if (i < n) store<f64>(y + (<usize>i << 3), expd(load<f64>(x + (<usize>i << 3))));
}

/**
 * The first id i < n, not among the nBanned ids at banned (i32), whose logit is the largest of those
 * ids' (NaN never counts; -1 when no id has a logit above -inf): src/decode/sampling.ts's argmax, the
 * rule of greedy decoding. Two passes instead of one branch per id: the largest logit of all ids on four
 * vectors (pmax keeps the running maximum where the new value is NaN), then the first id holding it
 * that is not banned. Where only banned ids hold it, the rule's own loop decides. About 10x faster than
 * the loop in JavaScript on SmolLM2's 49k logits (greedy verification takes one argmax per verified row
 * and one per mask of the group that proposes).
 */
export function logitArgmax(logits: usize, n: i32, banned: usize, nBanned: i32): i32 {
  let m0 = f32x4.splat(-Infinity), m1 = m0, m2 = m0, m3 = m0;
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const p = logits + (<usize>i << 2);
    m0 = f32x4.pmax(m0, v128.load(p));
    m1 = f32x4.pmax(m1, v128.load(p, 16));
    m2 = f32x4.pmax(m2, v128.load(p, 32));
    m3 = f32x4.pmax(m3, v128.load(p, 48));
  }
  const m = f32x4.pmax(f32x4.pmax(m0, m1), f32x4.pmax(m2, m3));
  let max = f32x4.extract_lane(m, 0);
  if (f32x4.extract_lane(m, 1) > max) max = f32x4.extract_lane(m, 1);
  if (f32x4.extract_lane(m, 2) > max) max = f32x4.extract_lane(m, 2);
  if (f32x4.extract_lane(m, 3) > max) max = f32x4.extract_lane(m, 3);
  for (; i < n; i++) {
    const v = load<f32>(logits + (<usize>i << 2));
    if (v > max) max = v;
  }
  if (!(max > -Infinity)) return -1;
  // The first id holding the maximum (== also ties -0 with +0, as the rule's > does) and not banned.
  const mv = f32x4.splat(max);
  for (i = 0; i + 4 <= n; i += 4) {
    if (!v128.any_true(f32x4.eq(v128.load(logits + (<usize>i << 2)), mv))) continue;
    for (let j = i; j < i + 4; j++) if (load<f32>(logits + (<usize>j << 2)) == max && !isListed(j, banned, nBanned)) return j;
  }
  for (; i < n; i++) if (load<f32>(logits + (<usize>i << 2)) == max && !isListed(i, banned, nBanned)) return i;
  // Only banned ids hold it: the rule as written.
  let best = -1;
  let bestValue = -Infinity as f32;
  for (i = 0; i < n; i++) {
    const v = load<f32>(logits + (<usize>i << 2));
    if (v > bestValue && !isListed(i, banned, nBanned)) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

/** Whether id is among the n i32 ids at list. */
// @ts-ignore: decorator
@inline function isListed(id: i32, list: usize, n: i32): bool {
  for (let k = 0; k < n; k++) if (load<i32>(list + (<usize>k << 2)) == id) return true;
  return false;
}
