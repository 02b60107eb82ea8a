// Element-wise kernels. expf is AssemblyScript's Mathf.exp (musl's table-driven expf, evaluated in f64):
// deterministic on every machine, and ported bit for bit in src/wasm/reference.ts; expf4 (expf.ts) is the
// same function on four lanes.
import { expf4 } from "./expf";

/** swiglu(gate, up, out, n): out[i] = (g / (1 + expf(-g))) * u for f32 [n] (out may alias either). */
export function swiglu(gate: usize, up: usize, out: usize, n: i32): void {
  const end = <usize>n << 2;
  const vecEnd = end & ~15;
  const one = f32x4.splat(1);
  let i: usize = 0;
  for (; i < vecEnd; i += 16) {
    // The same f32 operations per lane, expf four lanes at a time (expf4: bit for bit Mathf.exp).
    const g = v128.load(gate + i);
    v128.store(out + i, f32x4.mul(f32x4.div(g, f32x4.add(one, expf4(f32x4.neg(g)))), v128.load(up + i)));
  }
  for (; i < end; i += 4) {
    const g = load<f32>(gate + i);
    store<f32>(out + i, (g / (<f32>1 + Mathf.exp(-g))) * load<f32>(up + i));
  }
}

/** add(x, y, n): x[i] += y[i] for f32 [n] (the residual connection). */
export function add(x: usize, y: usize, n: i32): void {
  const end = <usize>n << 2;
  const vecEnd = end & ~15;
  let i: usize = 0;
  for (; i < vecEnd; i += 16) v128.store(x + i, f32x4.add(v128.load(x + i), v128.load(y + i)));
  for (; i < end; i += 4) store<f32>(x + i, load<f32>(x + i) + load<f32>(y + i));
}

/** softmax(x, n): in place over f32 [n], n >= 1: m = max, e = expf(x - m), sum in index order, x = e / sum. */
export function softmax(x: usize, n: i32): void {
  if (n <= 0) return;
  const end = <usize>n << 2;
  let m = load<f32>(x);
  for (let i: usize = 4; i < end; i += 4) {
    const v = load<f32>(x + i);
    if (v > m) m = v;
  }
  // e four at a time (expf4: bit for bit Mathf.exp), the sum still one element after another.
  const vecEnd = end & ~15;
  const mv = f32x4.splat(m);
  let sum: f32 = 0;
  let i: usize = 0;
  for (; i < vecEnd; i += 16) {
    const e = expf4(f32x4.sub(v128.load(x + i), mv));
    v128.store(x + i, e);
    sum = (((sum + f32x4.extract_lane(e, 0)) + f32x4.extract_lane(e, 1)) + f32x4.extract_lane(e, 2)) + f32x4.extract_lane(e, 3);
  }
  for (; i < end; i += 4) {
    const e = Mathf.exp(load<f32>(x + i) - m);
    store<f32>(x + i, e);
    sum += e;
  }
  const sv = f32x4.splat(sum);
  i = 0;
  for (; i < vecEnd; i += 16) v128.store(x + i, f32x4.div(v128.load(x + i), sv));
  for (; i < end; i += 4) store<f32>(x + i, load<f32>(x + i) / sum);
}
