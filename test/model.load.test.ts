/**
 * Loading weights: matrices repacked at load piece by piece (a few thousand rows at a time, so the
 * native bytes never sit whole in WebAssembly memory) are byte-identical to packing the whole tensor at
 * once, whatever the piece size, including a last piece shorter than the others, and for attn_q / attn_k,
 * whose pieces hold whole heads un-permuted from GGUF's RoPE order.
 */
import { describe, expect, it } from "vitest";
import { readGGUF, metaGetter } from "../src/gguf/reader.js";
import { bytesSource } from "../src/gguf/source.js";
import { GGML } from "../src/gguf/types.js";
import { configFromMetadata } from "../src/model/config.js";
import { PANEL_OF, loadWeights, type Matrix, type WeightStorage } from "../src/model/weights.js";
import { packedBytes, type PanelLayout } from "../src/wasm/kernels.js";
import { Arena } from "../src/wasm/arena.js";
import { loadCoreNode } from "../src/node/wasm.js";
import { tinyModelBytes } from "./helpers/tiny-model.js";

async function matrices(bytes: Uint8Array, storage: WeightStorage, chunkRows?: number): Promise<Uint8Array[]> {
  const core = await loadCoreNode("plain");
  const source = bytesSource("tiny.gguf", bytes);
  const file = readGGUF(source);
  const cfg = configFromMetadata(metaGetter(file), file.name);
  const arena = new Arena(core);
  const w = loadWeights(file, source, core, arena, cfg, storage, chunkRows);
  const all: Matrix[] = [w.output, ...w.layers.flatMap((L) => [L.wq, L.wk, L.wv, L.wo, L.wGate, L.wUp, L.wDown])];
  // Each matrix's panels: exactly packedBytes of its layout (not up to the next allocation, which may be
  // an uninitialised buffer such as q8's activation rows).
  return all.map((m) => {
    const layout = PANEL_OF[m.layout ?? "rows"];
    expect(layout).not.toBe(0);
    return new Uint8Array(core.memory.buffer, m.ptr, packedBytes(layout as PanelLayout, m.K, m.N)).slice();
  });
}

describe("repacking at load", () => {
  for (const storage of ["f32", "bf16", "q8"] as const) {
    it(`${storage}: packing in pieces of 8 or 20 rows gives the bytes of one piece`, async () => {
      const bytes = tinyModelBytes({ seed: 4, matrixType: GGML.Q4_1, embedType: GGML.Q8_0, dModel: 64 });
      const whole = await matrices(bytes, storage, 1 << 20);
      for (const rows of [8, 20]) {
        const pieces = await matrices(bytes, storage, rows);
        expect(pieces.length).toBe(whole.length);
        pieces.forEach((p, i) => expect(Buffer.from(p).equals(Buffer.from(whole[i])), `matrix ${i}, pieces of ${rows}`).toBe(true));
      }
    });
  }

  it("refuses a piece size that is not a positive multiple of 4", async () => {
    await expect(matrices(tinyModelBytes({ seed: 4 }), "q8", 6)).rejects.toThrow(/multiple of 4/);
  });
});
