/**
 * crossEntropy(logits, labels, weights, dlogits, losses, T, V, scale): softmax cross-entropy over the
 * vocabulary, per row t, with label y = labels[t] (-1 = unlabelled) and weight w = weights[t]:
 *   m = max_i z_i, e_i = expf(z_i - m), sum = e_0 + e_1 + ... in index order (the softmax kernel's order)
 *   losses[t] = f32(w * (ln(sum) + (m - z_y)))    (evaluated in f64: ln is AssemblyScript's Math.log)
 *   dlogits[t, i] = ((e_i / sum) - [i == y]) * c,  c = w * scale
 * An unlabelled row, or one of weight 0, gets dlogits = 0 and loss 0.
 *   logits, dlogits: f32 [T, V] (may alias: in place); labels: i32 [T] (0 <= y < V, checked by the
 *   caller); weights: f32 [T]; losses: f32 [T]. `scale` is the step's normaliser (1 / total weight).
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
    let m = load<f32>(z);
    for (let i: usize = 4; i < end; i += 4) {
      const x = load<f32>(z + i);
      if (x > m) m = x;
    }
    let sum: f32 = 0;
    for (let i: usize = 0; i < end; i += 4) {
      const e = Mathf.exp(load<f32>(z + i) - m);
      store<f32>(dz + i, e);
      sum += e;
    }
    store<f32>(losses + (<usize>t << 2), <f32>(<f64>w * (Math.log(<f64>sum) + (<f64>m - <f64>zy))));
    const ey = load<f32>(dz + (<usize>y << 2));
    const c = w * scale;
    for (let i: usize = 0; i < end; i += 4) store<f32>(dz + i, (load<f32>(dz + i) / sum) * c);
    store<f32>(dz + (<usize>y << 2), ((ey / sum) - <f32>1) * c);
  }
}
