// Rotary position embedding, Hugging Face "rotate half" pairing: element i of a head pairs with i + half.

/**
 * ropeTable(pos, T, headDim, base, cos, sin): for t < T, i < half = headDim / 2:
 *   inv = f32(base ** (-2i / headDim)) (f64 pow), a = f32(f32(pos[t]) * inv),
 *   cos[t * half + i] = f32(cos(f64(a))), sin likewise.
 *   pos: i32 [T]; cos, sin: f32 [T, half].
 */
export function ropeTable(pos: usize, T: i32, headDim: i32, base: f64, cos: usize, sin: usize): void {
  const half = headDim >> 1;
  for (let t = 0; t < T; t++) {
    const p = <f32>load<i32>(pos + (<usize>t << 2));
    for (let i = 0; i < half; i++) {
      const inv = <f32>Math.pow(base, <f64>(-2 * i) / <f64>headDim);
      const a = <f64>(p * inv);
      const o = (<usize>(t * half + i)) << 2;
      store<f32>(cos + o, <f32>Math.cos(a));
      store<f32>(sin + o, <f32>Math.sin(a));
    }
  }
}

/**
 * ropeApply(x, cos, sin, T, nHeads, headDim, rowStride): in place, for every row t and head h < nHeads
 * (head h at x + (t * rowStride + h * headDim) floats; rowStride in f32 elements):
 *   a = x[i], b = x[i + half], c = cos[t, i], s = sin[t, i]:  x[i] = a*c - b*s,  x[i + half] = b*c + a*s
 * (each product rounded, never fused). cos, sin: f32 [T, headDim / 2] from ropeTable.
 */
export function ropeApply(x: usize, cos: usize, sin: usize, T: i32, nHeads: i32, headDim: i32, rowStride: i32): void {
  rotate(x, cos, sin, T, nHeads, headDim, rowStride, 1);
}

/**
 * The rotation by angle sign * a, shared by ropeApply (sign = 1) and its backward, the transposed
 * rotation (sign = -1, assembly/grad/rope.ts). Negating s is exact, so the backward's
 * `a*c + b*s, b*c - a*s` is computed bit for bit as written.
 */
export function rotate(x: usize, cos: usize, sin: usize, T: i32, nHeads: i32, headDim: i32, rowStride: i32, sign: f32): void {
  const half = headDim >> 1;
  const halfBytes = <usize>half << 2;
  const vecBytes = halfBytes & ~15; // the f32x4 part; a scalar tail does the same operations per element
  const signs = f32x4.splat(sign);
  for (let t = 0; t < T; t++) {
    const row = x + ((<usize>t * <usize>rowStride) << 2);
    const ct = cos + <usize>t * halfBytes;
    const st = sin + <usize>t * halfBytes;
    for (let h = 0; h < nHeads; h++) {
      const hp = row + ((<usize>h * <usize>headDim) << 2);
      let i: usize = 0;
      for (; i < vecBytes; i += 16) {
        const a = v128.load(hp + i), b = v128.load(hp + halfBytes + i);
        const c = v128.load(ct + i), s = f32x4.mul(v128.load(st + i), signs);
        v128.store(hp + i, f32x4.sub(f32x4.mul(a, c), f32x4.mul(b, s)));
        v128.store(hp + halfBytes + i, f32x4.add(f32x4.mul(b, c), f32x4.mul(a, s)));
      }
      for (; i < halfBytes; i += 4) {
        const a = load<f32>(hp + i), b = load<f32>(hp + halfBytes + i);
        const c = load<f32>(ct + i), s = load<f32>(st + i) * sign;
        store<f32>(hp + i, a * c - b * s);
        store<f32>(hp + halfBytes + i, b * c + a * s);
      }
    }
  }
}
