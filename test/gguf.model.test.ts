/**
 * The real model's header (SmolLM2-135M-Instruct Q4_1, from `npm run fetch-models`); skipped when the
 * file is absent. Only the header and two tensors are read, so this stays fast.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { skipWithout } from "./helpers/required.js";
import { dequantize } from "../src/gguf/dequant.js";
import { checkTensorTypes, metaGetter, metaNumber, metaString, readGGUF, type GGUFFile } from "../src/gguf/reader.js";
import { GGML, MetaType } from "../src/gguf/types.js";
import { fileSource } from "../src/node/files.js";
import { HAVE_MODEL, HAVE_VENV, MODEL_PATH, VENV_PYTHON } from "./gguf.shared.js";

function withModel<T>(fn: (f: GGUFFile, read: (offset: number, length: number) => Uint8Array, size: number) => T): T {
  const src = fileSource(MODEL_PATH);
  try {
    return fn(readGGUF(src), (o, n) => src.read(o, n), src.byteLength);
  } finally {
    src.close();
  }
}

describe.skipIf(skipWithout(HAVE_MODEL))(`real model header (${MODEL_PATH}; skipped when absent outside CI)`, () => {
  it("has the expected directory and metadata", () => {
    withModel((f, _read, size) => {
      expect(f.version).toBe(3);
      expect(f.alignment).toBe(32);
      expect(f.dataOffset).toBe(1785664);
      expect(f.metadata.size).toBe(33);
      expect(f.tensors.length).toBe(272);
      expect(metaString(f, "general.architecture")).toBe("llama");
      expect(metaNumber(f, "llama.block_count")).toBe(30);
      expect(metaNumber(f, "llama.embedding_length")).toBe(576);
      expect(metaNumber(f, "llama.attention.head_count")).toBe(9);
      expect(metaNumber(f, "llama.attention.head_count_kv")).toBe(3);
      expect(metaNumber(f, "llama.attention.layer_norm_rms_epsilon")).toBe(Math.fround(1e-5));
      const get = metaGetter(f);
      expect((get("tokenizer.ggml.tokens") as string[]).length).toBe(49152);
      expect((get("tokenizer.ggml.merges") as string[]).length).toBe(48900);
      expect(get("tokenizer.ggml.model")).toBe("gpt2");
      expect(get("tokenizer.ggml.eos_token_id")).toBe(2);
      expect(get("tokenizer.ggml.add_bos_token")).toBe(false);
      expect(f.metadata.get("tokenizer.ggml.token_type")).toMatchObject({ type: MetaType.ARRAY, itemType: MetaType.INT32 });
      const counts: Record<string, number> = {};
      for (const t of f.tensors) counts[t.typeName] = (counts[t.typeName] ?? 0) + 1;
      expect(counts).toEqual({ Q4_1: 210, F32: 61, Q8_0: 1 });
      expect(f.tensorByName.get("token_embd.weight")).toMatchObject({ type: GGML.Q8_0, dims: [576, 49152], offset: 1785664, byteLength: 30081024 });
      const end = Math.max(...f.tensors.map((t) => t.offset + t.byteLength));
      expect(end).toBeLessThanOrEqual(size);
      expect(() => checkTensorTypes(f)).not.toThrow();
    });
  });

  it.skipIf(skipWithout(HAVE_VENV))("agrees with gguf-py on metadata, directory and two tensors' values", () => {
    const only = ["blk.0.ffn_down.weight", "output_norm.weight"];
    const run = spawnSync(VENV_PYTHON, [join(import.meta.dirname, "..", "tools", "gguf_read.py"), MODEL_PATH, `--only=${only.join(",")}`], {
      encoding: "utf8",
      maxBuffer: 1 << 28,
    });
    expect(run.status, run.stderr).toBe(0);
    const py = JSON.parse(run.stdout);
    withModel((f, read) => {
      expect(py.dataOffset).toBe(f.dataOffset);
      expect(Object.keys(py.fields)).toEqual([...f.metadata.keys()]);
      const tokens = f.metadata.get("tokenizer.ggml.tokens")!.value as string[];
      expect(py.fields["tokenizer.ggml.tokens"].value).toEqual(tokens);
      expect(py.fields["tokenizer.ggml.merges"].value).toEqual(f.metadata.get("tokenizer.ggml.merges")!.value);
      expect(py.fields["tokenizer.ggml.token_type"].value).toEqual(f.metadata.get("tokenizer.ggml.token_type")!.value);
      expect(py.fields["tokenizer.chat_template"].value).toEqual(f.metadata.get("tokenizer.chat_template")!.value);
      expect(py.tensors.map((t: { name: string; type: number; dims: number[]; offset: number; byteLength: number }) => [t.name, t.type, t.dims, t.offset, t.byteLength])).toEqual(
        f.tensors.map((t) => [t.name, t.type, t.dims, t.offset, t.byteLength]),
      );
      for (const name of only) {
        const t = f.tensorByName.get(name)!;
        const theirs = new Uint8Array(Buffer.from(py.tensors.find((p: { name: string }) => p.name === name).dequant, "base64"));
        const ours = new Uint8Array(dequantize(t.type, read(t.offset, t.byteLength), t.nElements).buffer);
        expect(ours.length).toBe(theirs.length);
        expect(Buffer.compare(Buffer.from(ours), Buffer.from(theirs)), `${name} dequantised bit for bit`).toBe(0);
      }
    });
  });
});
