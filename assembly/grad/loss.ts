import { expf4 } from "../expf";

/**
 * crossEntropy(logits, labels, weights, dlogits, losses, T, V, scale): softmax cross-entropy over the
 * vocabulary, per row t, with label y = labels[t] (-1 = unlabelled) and weight w = weights[t]:
 *   m = max_i z_i, e_i = expf(z_i - m), sum = e_0 + e_1 + ... in index order (the softmax kernel's order)
 *   losses[t] = f32(w * (ln(sum) + (m - z_y)))    (evaluated in f64: ln is AssemblyScript's Math.log)
 *   dlogits[t, i] = ((e_i / sum) - [i == y]) * c,  c = w * scale
 * An unlabelled row, or one of weight 0, gets dlogits = 0 and loss 0.
 *   logits, dlogits: f32 [T, V] (may alias: in place); labels: i32 [T] (0 <= y < V, checked by the
 *   caller); weights: f32 [T]; losses: f32 [T]. `scale` is the step's normaliser (1 / total weight).
 * Four logits at a time (expf4 is bit for bit Mathf.exp; the divisions and products are IEEE in both
 * forms; the sum stays one scalar chain in index order), so the results are the scalar loop's. The
 * maximum is taken lane-wise: the same value, except that of +0 and -0 it may pick the other, and
 * z - (+0) and z - (-0) are equal for every z, as are the loss terms (a NaN logit makes the loss NaN
 * either way, which the trainer stops on).
 */
export function crossEntropy(logits: usize, labels: usize, weights: usize, dlogits: usize, losses: usize, T: i32, V: i32, scale: f32): void {
  const stride = <usize>V << 2;
  const end = stride;
  for (let t = 0; t < T; t++) {
    const z = logits + <usize>t * stride;
    const dz = dlogits + <usize>t * stride;
    const y = load<i32>(labels + (<usize>t << 2));
    const w = load<f32>(weights + (<usize>t << 2));
    if (y < 0 || w == 0) {
      memory.fill(dz, 0, stride);
      store<f32>(losses + (<usize>t << 2), 0);
      continue;
    }
    const zy = load<f32>(z + (<usize>y << 2));
    const vend = end & ~15; // whole f32x4 chunks
    let mv = f32x4.splat(load<f32>(z));
    for (let i: usize = 0; i < vend; i += 16) mv = f32x4.max(mv, v128.load(z + i));
    let m = f32x4.extract_lane(mv, 0);
    for (let l = 1; l < 4; l++) {
      const x = l == 1 ? f32x4.extract_lane(mv, 1) : l == 2 ? f32x4.extract_lane(mv, 2) : f32x4.extract_lane(mv, 3);
      if (x > m) m = x;
    }
    for (let i: usize = vend; i < end; i += 4) {
      const x = load<f32>(z + i);
      if (x > m) m = x;
    }
    let sum: f32 = 0;
    const ms = f32x4.splat(m);
    for (let i: usize = 0; i < vend; i += 16) {
      const e = expf4(f32x4.sub(v128.load(z + i), ms));
      v128.store(dz + i, e);
      sum += f32x4.extract_lane(e, 0);
      sum += f32x4.extract_lane(e, 1);
      sum += f32x4.extract_lane(e, 2);
      sum += f32x4.extract_lane(e, 3);
    }
    for (let i: usize = vend; i < end; i += 4) {
      const e = Mathf.exp(load<f32>(z + i) - m);
      store<f32>(dz + i, e);
      sum += e;
    }
    store<f32>(losses + (<usize>t << 2), <f32>(<f64>w * (Math.log(<f64>sum) + (<f64>m - <f64>zy))));
    const ey = load<f32>(dz + (<usize>y << 2));
    const c = w * scale;
    const sv = f32x4.splat(sum), cv = f32x4.splat(c);
    for (let i: usize = 0; i < vend; i += 16) v128.store(dz + i, f32x4.mul(f32x4.div(v128.load(dz + i), sv), cv));
    for (let i: usize = vend; i < end; i += 4) store<f32>(dz + i, (load<f32>(dz + i) / sum) * c);
    store<f32>(dz + (<usize>y << 2), ((ey / sum) - <f32>1) * c);
  }
}
