/**
 * `npx tsx scripts/shape-clone.ts IN.gguf OUT.gguf`: a model with IN's metadata (config, tokenizer) and
 * IN's tensor names, shapes and types, but synthetic weights: each quantised block repeats one of a few
 * valid blocks (finite scales, varied codes). Speed depends only on shapes and types, so the clone times
 * exactly like the original, and xz packs it to almost nothing: what carries a model's cost curve to a
 * machine that cannot fetch the model (benchmarks only; its text is meaningless).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { readGGUF } from "../src/gguf/reader.js";
import { bytesSource } from "../src/gguf/source.js";
import { writeGGUF } from "../src/gguf/writer.js";
import { quantize } from "../src/gguf/dequant.js";
import { GGML, blockSize, typeSize } from "../src/gguf/types.js";

const [inPath, outPath] = process.argv.slice(2);
if (!inPath || !outPath) throw new Error("usage: shape-clone IN.gguf OUT.gguf");
const file = readGGUF(bytesSource(inPath, readFileSync(inPath)));

/** A few valid blocks of `type` (256 elements each, any block size divides 256), from small values. */
function patterns(type: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let p = 0; p < 7; p++) {
    const v = Array.from({ length: 256 }, (_, i) => Math.sin(i * 0.37 + p) * 0.05 * (1 + (i % 5)));
    out.push(type === GGML.F32 ? new Uint8Array(new Float32Array(v).buffer) : quantize(type, v));
  }
  return out;
}

const tensors = file.tensors.map((t) => {
  const bytes = new Uint8Array(t.byteLength);
  if (t.name.endsWith("norm.weight") && t.type === GGML.F32) new Float32Array(bytes.buffer).fill(1);
  else {
    const ps = patterns(t.type);
    const unit = ps[0].length; // bytes of 256 elements
    for (let o = 0, i = 0; o < bytes.length; o += unit, i++) bytes.set(ps[i % ps.length].subarray(0, Math.min(unit, bytes.length - o)), o);
  }
  if ((t.nElements / blockSize(t.type)) * typeSize(t.type) !== t.byteLength) throw new Error(`${t.name}: size mismatch`);
  return { name: t.name, type: t.type, dims: t.dims, data: bytes };
});
writeFileSync(outPath, writeGGUF({ metadata: file.metadata, tensors, alignment: file.alignment }));
console.log(`${outPath}: ${tensors.length} tensors`);
