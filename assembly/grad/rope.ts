/**
 * ropeApplyBack(x, cos, sin, T, nHeads, headDim, rowStride): backward of ropeApply, in place on the
 * gradient: the transposed rotation. With a = dx[i], b = dx[i + half], c = cos[t, i], s = sin[t, i]:
 *   dx[i] = a*c + b*s,  dx[i + half] = b*c - a*s    (each product rounded, never fused)
 * Same layout as ropeApply (rowStride in f32 elements; cos, sin: f32 [T, headDim / 2] from ropeTable).
 */
export function ropeApplyBack(x: usize, cos: usize, sin: usize, T: i32, nHeads: i32, headDim: i32, rowStride: i32): void {
  const half = headDim >> 1;
  const halfBytes = <usize>half << 2;
  const vecBytes = halfBytes & ~15;
  for (let t = 0; t < T; t++) {
    const row = x + ((<usize>t * <usize>rowStride) << 2);
    const ct = cos + <usize>t * halfBytes;
    const st = sin + <usize>t * halfBytes;
    for (let h = 0; h < nHeads; h++) {
      const hp = row + ((<usize>h * <usize>headDim) << 2);
      let i: usize = 0;
      for (; i < vecBytes; i += 16) {
        const a = v128.load(hp + i), b = v128.load(hp + halfBytes + i);
        const c = v128.load(ct + i), s = v128.load(st + i);
        v128.store(hp + i, f32x4.add(f32x4.mul(a, c), f32x4.mul(b, s)));
        v128.store(hp + halfBytes + i, f32x4.sub(f32x4.mul(b, c), f32x4.mul(a, s)));
      }
      for (; i < halfBytes; i += 4) {
        const a = load<f32>(hp + i), b = load<f32>(hp + halfBytes + i);
        const c = load<f32>(ct + i), s = load<f32>(st + i);
        store<f32>(hp + i, a * c + b * s);
        store<f32>(hp + halfBytes + i, b * c - a * s);
      }
    }
  }
}
