import { rotate } from "../rope";

/**
 * ropeApplyBack(x, cos, sin, T, nHeads, headDim, rowStride): backward of ropeApply, in place on the
 * gradient: the transposed rotation. With a = dx[i], b = dx[i + half], c = cos[t, i], s = sin[t, i]:
 *   dx[i] = a*c + b*s,  dx[i + half] = b*c - a*s    (each product rounded, never fused)
 * Same layout as ropeApply (rowStride in f32 elements; cos, sin: f32 [T, headDim / 2] from ropeTable).
 */
export function ropeApplyBack(x: usize, cos: usize, sin: usize, T: i32, nHeads: i32, headDim: i32, rowStride: i32): void {
  rotate(x, cos, sin, T, nHeads, headDim, rowStride, -1);
}
