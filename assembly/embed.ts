import { dequantRows } from "./quant";

/**
 * embed(type, table, ids, T, D, out): out[t, :] = dequantised row ids[t] of the table.
 *   table: `type` [V, D]; ids: i32 [T] (the caller checks 0 <= id < V); out: f32 [T, D].
 * Uses dequantRows, so an embedding equals the row dequantRows produces, bit for bit.
 */
export function embed(type: i32, table: usize, ids: usize, T: i32, D: i32, out: usize): void {
  const stride = <usize>D << 2;
  for (let t = 0; t < T; t++) {
    const id = load<i32>(ids + (<usize>t << 2));
    dequantRows(type, table, out + <usize>t * stride, D, id, id + 1);
  }
}
