/**
 * swigluBack(gate, up, dout, dgate, dup, n): backward of swiglu (out = silu(g) * u, silu(g) = g / (1 + e),
 * e = expf(-g)). Per element, with den = 1 + e, sig = 1 / den:
 *   dup   = d * (g / den)
 *   dgate = (d * u) * (sig * (1 + g * (1 - sig)))
 *   f32 [n] each; dgate may alias gate and dup may alias up (every input is read before writing).
 */
export function swigluBack(gate: usize, up: usize, dout: usize, dgate: usize, dup: usize, n: i32): void {
  const end = <usize>n << 2;
  for (let i: usize = 0; i < end; i += 4) {
    const g = load<f32>(gate + i);
    const u = load<f32>(up + i);
    const d = load<f32>(dout + i);
    const den = <f32>1 + Mathf.exp(-g);
    const sig = <f32>1 / den;
    store<f32>(dup + i, d * (g / den));
    store<f32>(dgate + i, (d * u) * (sig * (<f32>1 + g * (<f32>1 - sig))));
  }
}

/**
 * embedBack(ids, dx, dtable, T, D): dtable[ids[t], :] += dx[t, :] for t = 0 .. T-1 in order (one rounded
 * add per element and row). ids: i32 [T] (checked by the caller); dx: f32 [T, D]; dtable: f32 [V, D].
 */
export function embedBack(ids: usize, dx: usize, dtable: usize, T: i32, D: i32): void {
  const stride = <usize>D << 2;
  for (let t = 0; t < T; t++) {
    const row = dtable + <usize>load<i32>(ids + (<usize>t << 2)) * stride;
    const src = dx + <usize>t * stride;
    for (let i: usize = 0; i < stride; i += 16) v128.store(row + i, f32x4.add(v128.load(row + i), v128.load(src + i)));
  }
}
