import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { skipWithout } from "./helpers/required.js";
import { dequantize, quantize } from "../src/gguf/dequant.js";
import { readGGUF } from "../src/gguf/reader.js";
import { bytesSource } from "../src/gguf/source.js";
import { GGML, MetaType, SUPPORTED_TYPES, blockSize, typeSize, type GGUFMetaValue, type MetaScalar } from "../src/gguf/types.js";
import { writeGGUF, type GGUFTensorSpec } from "../src/gguf/writer.js";
import { HAVE_VENV, VENV_PYTHON, expectSpaceError, floats, smallSpec } from "./gguf.shared.js";

const str = fc.string({ unit: "binary", maxLength: 24 });

const scalarArb: Record<number, fc.Arbitrary<MetaScalar>> = {
  [MetaType.UINT8]: fc.integer({ min: 0, max: 0xff }),
  [MetaType.INT8]: fc.integer({ min: -0x80, max: 0x7f }),
  [MetaType.UINT16]: fc.integer({ min: 0, max: 0xffff }),
  [MetaType.INT16]: fc.integer({ min: -0x8000, max: 0x7fff }),
  [MetaType.UINT32]: fc.integer({ min: 0, max: 0xffffffff }),
  [MetaType.INT32]: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  [MetaType.FLOAT32]: fc.float(),
  [MetaType.BOOL]: fc.boolean(),
  [MetaType.STRING]: str,
  [MetaType.UINT64]: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  [MetaType.INT64]: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  [MetaType.FLOAT64]: fc.double(),
};
const scalarTypes = Object.keys(scalarArb).map(Number) as MetaType[];

const metaValueArb: fc.Arbitrary<GGUFMetaValue> = fc.oneof(
  fc.constantFrom(...scalarTypes).chain((type) => scalarArb[type]!.map((value): GGUFMetaValue => ({ type, value }))),
  fc
    .constantFrom(...scalarTypes)
    .chain((itemType) => fc.array(scalarArb[itemType]!, { maxLength: 8 }).map((value): GGUFMetaValue => ({ type: MetaType.ARRAY, itemType, value }))),
);

const tensorTypes = [...SUPPORTED_TYPES, GGML.Q5_0, GGML.IQ2_XXS, GGML.I32];
const tensorShapeArb = fc.record({
  type: fc.constantFrom(...tensorTypes),
  blocks: fc.integer({ min: 0, max: 3 }),
  rest: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
});

const specArb = fc.record({
  metadata: fc.uniqueArray(fc.tuple(str.filter((k) => k !== "general.alignment"), metaValueArb), { selector: ([k]) => k, maxLength: 8 }),
  tensors: fc.uniqueArray(fc.tuple(str, tensorShapeArb, fc.integer()), { selector: ([n]) => n, maxLength: 5 }),
  alignment: fc.constantFrom(undefined, 1, 8, 32, 64, 256),
});

describe("writeGGUF / readGGUF round trip", () => {
  it("read(write(x)) == x for random metadata and tensors", () => {
    fc.assert(
      fc.property(specArb, ({ metadata, tensors, alignment }) => {
        const ts: GGUFTensorSpec[] = tensors.map(([name, s, seed]) => {
          const dims = [s.blocks * blockSize(s.type), ...s.rest];
          const n = dims.reduce((a, b) => a * b, 1);
          const data = new Uint8Array((n / blockSize(s.type)) * typeSize(s.type));
          for (let i = 0; i < data.length; i++) data[i] = (seed + i * 2654435761) >>> 24;
          return { name, type: s.type, dims, data };
        });
        const bytes = writeGGUF({ metadata, tensors: ts, alignment });
        const f = readGGUF(bytesSource("rt.gguf", bytes));
        const al = alignment ?? 32;
        expect(f.version).toBe(3);
        expect(f.alignment).toBe(al);
        const want = new Map(metadata);
        if (al !== 32) want.set("general.alignment", { type: MetaType.UINT32, value: al });
        expect(f.metadata).toEqual(want);
        expect([...f.metadata.keys()]).toEqual([...want.keys()]);
        expect(f.tensors.map((t) => [t.name, t.type, t.dims])).toEqual(ts.map((t) => [t.name, t.type, t.dims]));
        f.tensors.forEach((t, i) => {
          expect(t.offset % al).toBe(0);
          expect(bytes.subarray(t.offset, t.offset + t.byteLength)).toEqual(ts[i]!.data);
        });
        // Canonical: writing what was read gives the same bytes.
        const again = writeGGUF({
          metadata: f.metadata,
          tensors: f.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: bytes.subarray(t.offset, t.offset + t.byteLength) })),
        });
        expect(again).toEqual(bytes);
      }),
      { numRuns: 300, seed: 4242 },
    );
  });

  it("rejects invalid specs", () => {
    const s = smallSpec();
    const t0 = s.tensors[0]!;
    expectSpaceError(() => writeGGUF({ ...s, tensors: [t0, t0] }), "E_GGUF", /duplicate tensor norm\.weight/);
    expectSpaceError(() => writeGGUF({ ...s, tensors: [{ ...t0, data: new Uint8Array(3) }] }), "E_GGUF", /3 bytes of data, expected 32/);
    expectSpaceError(() => writeGGUF({ ...s, tensors: [{ ...t0, dims: [1, 1, 1, 1, 8] }] }), "E_GGUF", /5 dimensions/);
    expectSpaceError(() => writeGGUF({ ...s, tensors: [{ ...t0, type: GGML.Q8_0, dims: [8] }] }), "E_GGUF", /block size 32/);
    expectSpaceError(() => writeGGUF({ ...s, tensors: [{ ...t0, type: 99 }] }), "E_GGUF", /unknown \(id 99\)/);
    expectSpaceError(() => writeGGUF({ ...s, alignment: 24 }), "E_GGUF", /alignment 24 is not a power of two/);
    const bad = (m: GGUFMetaValue) => () => writeGGUF({ metadata: [["k", m]], tensors: [] });
    expectSpaceError(bad({ type: MetaType.UINT8, value: 256 }), "E_GGUF", /metadata k value 256/);
    expectSpaceError(bad({ type: MetaType.INT32, value: 1.5 }), "E_GGUF", /1\.5/);
    expectSpaceError(bad({ type: MetaType.UINT64, value: -1n }), "E_GGUF", /out of range/);
    expectSpaceError(bad({ type: MetaType.STRING, value: 3 }), "E_GGUF", /must be a string/);
    expectSpaceError(bad({ type: MetaType.ARRAY, value: [1] }), "E_GGUF", /itemType/);
    expectSpaceError(bad({ type: MetaType.ARRAY, itemType: MetaType.ARRAY, value: [] }), "E_GGUF", /itemType/);
    expectSpaceError(bad({ type: MetaType.UINT32, value: [1] }), "E_GGUF", /array value/);
    expectSpaceError(bad({ type: 42 as MetaType, value: 1 }), "E_GGUF", /unknown type/);
    expectSpaceError(
      () => writeGGUF({ metadata: [["k", { type: MetaType.UINT8, value: 1 }], ["k", { type: MetaType.UINT8, value: 2 }]], tensors: [] }),
      "E_GGUF",
      /duplicate metadata key k/,
    );
    expectSpaceError(
      () => writeGGUF({ metadata: [["general.alignment", { type: MetaType.UINT32, value: 64 }]], tensors: [], alignment: 16 }),
      "E_GGUF",
      /differs/,
    );
  });

  it("accepts safe numbers for 64-bit types and general.alignment given as metadata", () => {
    const b = writeGGUF({
      metadata: [
        ["general.alignment", { type: MetaType.UINT32, value: 16 }],
        ["n", { type: MetaType.INT64, value: -5 }],
      ],
      tensors: smallSpec().tensors,
    });
    const f = readGGUF(bytesSource("a.gguf", b));
    expect(f.alignment).toBe(16);
    expect(f.metadata.get("n")!.value).toBe(-5n);
  });
});

/** A file with every metadata type and a tensor of every supported type, for the Python reader. */
function pythonCheckSpec() {
  const metadata = new Map<string, GGUFMetaValue>([
    ["general.architecture", { type: MetaType.STRING, value: "llama" }],
    ["u8", { type: MetaType.UINT8, value: 200 }],
    ["i8", { type: MetaType.INT8, value: -100 }],
    ["u16", { type: MetaType.UINT16, value: 60000 }],
    ["i16", { type: MetaType.INT16, value: -30000 }],
    ["u32", { type: MetaType.UINT32, value: 4000000000 }],
    ["i32", { type: MetaType.INT32, value: -2000000000 }],
    ["f32", { type: MetaType.FLOAT32, value: Math.fround(0.1) }],
    ["bool", { type: MetaType.BOOL, value: true }],
    ["str", { type: MetaType.STRING, value: "héllo wörld \u{1F600} \uFEFFbom" }],
    ["u64", { type: MetaType.UINT64, value: 2n ** 64n - 1n }],
    ["i64", { type: MetaType.INT64, value: -(2n ** 63n) }],
    ["f64", { type: MetaType.FLOAT64, value: Math.PI }],
    ["arr.str", { type: MetaType.ARRAY, itemType: MetaType.STRING, value: ["a", "", "ü", "<|im_end|>"] }],
    ["arr.i32", { type: MetaType.ARRAY, itemType: MetaType.INT32, value: [1, -2, 3] }],
    ["arr.f32", { type: MetaType.ARRAY, itemType: MetaType.FLOAT32, value: [0.5, -0, 1e-40] }],
    ["arr.u64", { type: MetaType.ARRAY, itemType: MetaType.UINT64, value: [0n, 2n ** 63n] }],
    ["arr.empty", { type: MetaType.ARRAY, itemType: MetaType.UINT8, value: [] }],
  ]);
  const tensors: GGUFTensorSpec[] = SUPPORTED_TYPES.map((type, i) => {
    const k = blockSize(type) === 1 ? 64 : Math.max(blockSize(type), 64);
    const dims = [k, 3];
    return { name: `t.${i}.weight`, type, dims, data: quantize(type, floats(k * 3, 100 + i)) };
  });
  return { metadata, tensors, alignment: 64 };
}

function pyScalar(type: number, v: MetaScalar): unknown {
  if (type === MetaType.UINT64 || type === MetaType.INT64) return String(v);
  if (type === MetaType.FLOAT32 || type === MetaType.FLOAT64) {
    const b = new DataView(new ArrayBuffer(8));
    if (type === MetaType.FLOAT32) b.setFloat32(0, v as number, true);
    else b.setFloat64(0, v as number, true);
    return Buffer.from(b.buffer, 0, type === MetaType.FLOAT32 ? 4 : 8).toString("hex");
  }
  return v;
}

describe("the Python gguf package reads what we write", () => {
  it.skipIf(skipWithout(HAVE_VENV))(`gguf-py GGUFReader agrees (needs ${VENV_PYTHON}; skipped without it)`, () => {
    const dir = mkdtempSync(join(tmpdir(), "space-gguf-py-"));
    try {
      const spec = pythonCheckSpec();
      const bytes = writeGGUF(spec);
      const path = join(dir, "check.gguf");
      writeFileSync(path, bytes);
      const run = spawnSync(VENV_PYTHON, [join(import.meta.dirname, "..", "tools", "gguf_read.py"), path], { encoding: "utf8", maxBuffer: 1 << 26 });
      expect(run.status, run.stderr).toBe(0);
      const py = JSON.parse(run.stdout);
      const ours = readGGUF(bytesSource(path, bytes));
      expect(py.version).toBe(3);
      expect(py.alignment).toBe(64);
      expect(py.dataOffset).toBe(ours.dataOffset);
      const wantFields: Record<string, unknown> = {};
      for (const [k, m] of ours.metadata) {
        wantFields[k] =
          m.type === MetaType.ARRAY
            ? { type: m.type, itemType: m.itemType, value: (m.value as MetaScalar[]).map((v) => pyScalar(m.itemType!, v)) }
            : { type: m.type, value: pyScalar(m.type, m.value as MetaScalar) };
      }
      expect(py.fields).toEqual(wantFields);
      expect(py.tensors.length).toBe(ours.tensors.length);
      ours.tensors.forEach((t, i) => {
        const p = py.tensors[i];
        expect([p.name, p.type, p.dims, p.nElements, p.byteLength, p.offset]).toEqual([t.name, t.type, t.dims, t.nElements, t.byteLength, t.offset]);
        const data = bytes.subarray(t.offset, t.offset + t.byteLength);
        expect(p.sha256).toBe(createHash("sha256").update(data).digest("hex"));
        expect(p.dequant, `gguf-py dequantises ${t.typeName}`).toBeTypeOf("string");
        const theirs = new Uint8Array(Buffer.from(p.dequant, "base64"));
        expect(new Uint8Array(dequantize(t.type, data, t.nElements).buffer)).toEqual(theirs);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
