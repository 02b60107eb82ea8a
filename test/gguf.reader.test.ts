import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { SpaceError } from "../src/errors.js";
import {
  checkTensorTypes,
  metaBool,
  metaGet,
  metaGetter,
  metaNumber,
  metaNumberArray,
  metaString,
  metaStringArray,
  readGGUF,
  type GGUFFile,
} from "../src/gguf/reader.js";
import { bytesSource } from "../src/gguf/source.js";
import { GGML, MetaType } from "../src/gguf/types.js";
import { writeGGUF } from "../src/gguf/writer.js";
import { fileSource } from "../src/node/files.js";
import { Raw, expectSpaceError, smallSpec } from "./gguf.shared.js";

const read = (b: Uint8Array, name = "t.gguf", limits?: Parameters<typeof readGGUF>[1]): GGUFFile => readGGUF(bytesSource(name, b), limits);
const good = writeGGUF(smallSpec());

/** One valid KV (u32) and one F32 [32] tensor after `pre`, with data; `mutate` may edit the builder. */
function oneTensorFile(opts: { dims?: (number | bigint)[]; type?: number; offset?: number; extraKV?: (r: Raw) => number; data?: number } = {}): Uint8Array {
  const r = new Raw();
  const extra = new Raw();
  const nExtra = opts.extraKV ? opts.extraKV(extra) : 0;
  r.header(1, 1 + nExtra);
  r.str("k").u32(MetaType.UINT32).u32(7);
  r.bytes(extra.build());
  r.tensor("t0", opts.dims ?? [32], opts.type ?? GGML.F32, opts.offset ?? 0);
  r.padTo(32).zeros(opts.data ?? 128);
  return r.build();
}

describe("readGGUF: valid files", () => {
  it("reads the small file", () => {
    const f = read(good);
    expect(f.version).toBe(3);
    expect(f.alignment).toBe(32);
    expect(f.dataOffset % 32).toBe(0);
    expect(f.tensors.map((t) => [t.name, t.typeName, t.dims, t.nElements, t.byteLength])).toEqual([
      ["norm.weight", "F32", [8], 8, 32],
      ["w8", "Q8_0", [32, 2], 64, 68],
      ["w4", "Q4_1", [32, 1], 32, 20],
    ]);
    for (const t of f.tensors) expect((t.offset - f.dataOffset) % 32).toBe(0);
    expect(f.tensorByName.get("w8")).toBe(f.tensors[1]);
  });

  it("reads version 2 like version 3", () => {
    const v2 = good.slice();
    v2[4] = 2;
    expect(read(v2).version).toBe(2);
  });

  it("accessors return plain values and check types", () => {
    const f = read(good);
    expect(metaString(f, "general.architecture")).toBe("llama");
    expect(metaNumber(f, "llama.block_count")).toBe(2);
    expect(metaNumber(f, "llama.rope.freq_base")).toBe(10000);
    expect(metaNumber(f, "missing", 5)).toBe(5);
    expect(metaBool(f, "flag")).toBe(true);
    expect(metaStringArray(f, "tokens")).toEqual(["a", "bc", "héllo"]);
    expect(metaNumberArray(f, "ids")).toEqual([1, -2, 3]);
    expect(metaGet(f, "big")).toBe(1n << 60n); // not a safe integer: stays a bigint
    expect(metaGet(f, "nope")).toBeUndefined();
    expectSpaceError(() => metaString(f, "nope"), "E_MODEL", /t\.gguf/, /nope is missing/);
    expectSpaceError(() => metaString(f, "llama.block_count"), "E_MODEL", /UINT32, expected STRING/);
    expectSpaceError(() => metaNumber(f, "big"), "E_MODEL", /too large/);
    expectSpaceError(() => metaNumberArray(f, "tokens"), "E_MODEL", /ARRAY of STRING/);
    const get = metaGetter(f);
    expect(get("llama.block_count")).toBe(2);
    expect(get("tokens")).toEqual(["a", "bc", "héllo"]);
    expect(get("tokens")).toBe(get("tokens")); // cached
    expect(get("nope")).toBeUndefined();
  });

  it("converts safe 64-bit integers to numbers in the getter", () => {
    const b = writeGGUF({
      metadata: [
        ["u", { type: MetaType.UINT64, value: 42n }],
        ["a", { type: MetaType.ARRAY, itemType: MetaType.INT64, value: [-1n, 2n ** 62n] }],
      ],
      tensors: [],
    });
    const get = metaGetter(read(b));
    expect(get("u")).toBe(42);
    expect(get("a")).toEqual([-1, 2n ** 62n]);
  });

  it("honours general.alignment", () => {
    const b = writeGGUF({ ...smallSpec(), alignment: 64 });
    const f = read(b);
    expect(f.alignment).toBe(64);
    expect(f.dataOffset % 64).toBe(0);
    for (const t of f.tensors) expect(t.offset % 64).toBe(0);
  });

  it("checkTensorTypes names the tensor and the type", () => {
    const b = writeGGUF({ metadata: [], tensors: [{ name: "blk.0.attn_q.weight", type: GGML.IQ2_XXS, dims: [256], data: new Uint8Array(66) }] });
    const f = read(b);
    expect(f.tensors[0]!.typeName).toBe("IQ2_XXS");
    expectSpaceError(() => checkTensorTypes(f), "E_UNSUPPORTED", /tensor blk\.0\.attn_q\.weight has type IQ2_XXS \(id 16\), which is not supported/);
    expect(() => checkTensorTypes(read(good))).not.toThrow();
  });
});

describe("readGGUF: malformed files", () => {
  it("empty and tiny files", () => {
    expectSpaceError(() => read(new Uint8Array(0), "empty.gguf"), "E_GGUF", /empty\.gguf/, /not a GGUF/);
    expectSpaceError(() => read(good.subarray(0, 3)), "E_GGUF", /not a GGUF/);
  });

  it("wrong magic", () => {
    const b = good.slice();
    b[0] = 0x58;
    expectSpaceError(() => read(b), "E_GGUF", /magic/, /at byte 0/);
  });

  it("unsupported versions", () => {
    for (const [v, re] of [
      [1, /version 1 is not supported/],
      [4, /version 4 is not supported/],
      [0x03000000, /big-endian/],
    ] as const) {
      const b = good.slice();
      new DataView(b.buffer).setUint32(4, v, true);
      expectSpaceError(() => read(b), "E_UNSUPPORTED", re);
    }
  });

  it("absurd tensor and metadata counts", () => {
    expectSpaceError(() => read(new Raw().header(2n ** 63n, 0).build()), "E_GGUF", /tensor_count is 9223372036854775808, more than the limit/, /at byte 8/);
    expectSpaceError(() => read(new Raw().header(0, 2n ** 64n - 1n).build()), "E_GGUF", /metadata_kv_count/, /at byte 16/);
    expectSpaceError(() => read(new Raw().header(1000, 0).zeros(100).build()), "E_GGUF", /tensor_count is 1000, but only 108 bytes follow/);
    expectSpaceError(() => read(new Raw().header(0, 1000).zeros(100).build()), "E_GGUF", /metadata_kv_count is 1000/);
  });

  it("absurd and truncated string lengths", () => {
    expectSpaceError(() => read(new Raw().header(0, 1).u64(2n ** 62n).zeros(16).build()), "E_GGUF", /length of metadata key #0 is 4611686018427387904, more than the limit/, /at byte 24/);
    expectSpaceError(() => read(new Raw().header(0, 1).u64(1000).bytes([0x61, 0x62]).zeros(20).build()), "E_GGUF", /truncated/, /metadata key #0 is 1000 bytes long at offset 24/);
    const valueTooLong = new Raw().header(0, 1).str("name").u32(MetaType.STRING).u64(50).zeros(10).build();
    expectSpaceError(() => read(valueTooLong), "E_GGUF", /truncated/, /metadata value of name/);
  });

  it("absurd array lengths", () => {
    const huge = new Raw().header(0, 1).str("arr").u32(MetaType.ARRAY).u32(MetaType.UINT32).u64(2n ** 40n).zeros(64).build();
    expectSpaceError(() => read(huge), "E_GGUF", /array length of arr is 1099511627776, more than the limit/);
    const long = new Raw().header(0, 1).str("arr").u32(MetaType.ARRAY).u32(MetaType.UINT32).u64(100).zeros(64).build();
    expectSpaceError(() => read(long), "E_GGUF", /array length of arr is 100, but only 64 bytes follow/);
    const strs = new Raw().header(0, 1).str("arr").u32(MetaType.ARRAY).u32(MetaType.STRING).u64(100).zeros(64).build();
    expectSpaceError(() => read(strs), "E_GGUF", /array length of arr/);
  });

  it("limits can be lowered", () => {
    expectSpaceError(() => read(good, "t.gguf", { maxArrayLength: 2 }), "E_GGUF", /array length of tokens is 3, more than the limit of 2/);
    expectSpaceError(() => read(good, "t.gguf", { maxStringLength: 4 }), "E_GGUF", /more than the limit of 4/);
    expectSpaceError(() => read(good, "t.gguf", { maxTensorCount: 2 }), "E_GGUF", /tensor_count is 3/);
    expectSpaceError(() => read(good, "t.gguf", { maxKVCount: 1 }), "E_GGUF", /metadata_kv_count/);
    expectSpaceError(() => read(good, "t.gguf", { maxTensorElements: 32 }), "E_GGUF", /w8/, /exceeds the limit of 32/);
    expectSpaceError(() => read(good, "t.gguf", { maxArrayLength: -1 }), "E_ARGS", /maxArrayLength/);
  });

  it("unknown metadata value types, bad bools, nested arrays", () => {
    const unknown = new Raw().header(0, 1).str("x").u32(13).zeros(16).build();
    expectSpaceError(() => read(unknown), "E_GGUF", /value type of x is 13, not a known GGUF value type/, /at byte 33/);
    const unknownItem = new Raw().header(0, 1).str("x").u32(MetaType.ARRAY).u32(77).u64(1).zeros(8).build();
    expectSpaceError(() => read(unknownItem), "E_GGUF", /array item type of x is 77/);
    const nested = new Raw().header(0, 1).str("x").u32(MetaType.ARRAY).u32(MetaType.ARRAY).u64(1).zeros(32).build();
    expectSpaceError(() => read(nested), "E_UNSUPPORTED", /array of arrays/);
    const bool = new Raw().header(0, 1).str("b").u32(MetaType.BOOL).u8(2).build();
    expectSpaceError(() => read(bool), "E_GGUF", /BOOL with byte value 2/);
  });

  it("invalid UTF-8", () => {
    const b = new Raw().header(0, 1).u64(2).bytes([0xc3, 0x28]).u32(MetaType.UINT8).u8(1).build();
    expectSpaceError(() => read(b), "E_GGUF", /metadata key #0 is not valid UTF-8/, /at byte 32/);
    const long = new Raw().header(0, 1).str("k").u32(MetaType.STRING).u64(100).bytes(new Uint8Array(99).fill(0x61)).u8(0xff).build();
    expectSpaceError(() => read(long), "E_GGUF", /metadata value of k is not valid UTF-8/);
  });

  it("duplicate keys and tensor names", () => {
    const dupKey = new Raw().header(0, 2).str("k").u32(MetaType.UINT8).u8(1).str("k").u32(MetaType.UINT8).u8(2).build();
    expectSpaceError(() => read(dupKey), "E_GGUF", /duplicate metadata key k/, /at byte 38/);
    const dupTensor = new Raw().header(2, 0).tensor("t", [32], GGML.F32, 0).tensor("t", [32], GGML.F32, 128).padTo(32).zeros(256).build();
    expectSpaceError(() => read(dupTensor), "E_GGUF", /duplicate tensor t/);
  });

  it("bad alignment", () => {
    const kv = (type: number, write: (r: Raw) => void) => (r: Raw) => {
      r.str("general.alignment").u32(type);
      write(r);
      return 1;
    };
    expectSpaceError(() => read(oneTensorFile({ extraKV: kv(MetaType.UINT32, (r) => r.u32(24)) })), "E_GGUF", /general\.alignment must be a power of two/, /UINT32 24/);
    expectSpaceError(() => read(oneTensorFile({ extraKV: kv(MetaType.UINT32, (r) => r.u32(0)) })), "E_GGUF", /general\.alignment/);
    expectSpaceError(() => read(oneTensorFile({ extraKV: kv(MetaType.STRING, (r) => r.str("32")) })), "E_GGUF", /general\.alignment/);
    expect(read(oneTensorFile({ extraKV: kv(MetaType.UINT32, (r) => r.u32(16)) })).alignment).toBe(16);
  });

  it("too many dimensions, dimension products that overflow", () => {
    expectSpaceError(() => read(oneTensorFile({ dims: [32, 1, 1, 1, 1] })), "E_GGUF", /tensor t0 has 5 dimensions/);
    expectSpaceError(() => read(oneTensorFile({ dims: [2n ** 40n, 2n ** 40n] })), "E_GGUF", /tensor t0 has dimensions .* whose product exceeds/);
    expectSpaceError(() => read(oneTensorFile({ dims: [2n ** 64n - 1n] })), "E_GGUF", /tensor t0 dimension 0 is 18446744073709551615/);
    // Within limits but far bigger than the file.
    expectSpaceError(() => read(oneTensorFile({ dims: [32, 2 ** 30] })), "E_GGUF", /tensor t0 data .* extends past the end of the file/);
  });

  it("unknown, retired and known-but-unsupported tensor types", () => {
    expectSpaceError(() => read(oneTensorFile({ type: 99 })), "E_UNSUPPORTED", /tensor t0 has type unknown \(id 99\)/, /at byte/);
    expectSpaceError(() => read(oneTensorFile({ type: 31 })), "E_UNSUPPORTED", /tensor t0 has type Q4_0_4_4 \(id 31\)/);
    const f = read(oneTensorFile({ type: GGML.Q5_0, data: 32 }));
    expect(f.tensors[0]!.typeName).toBe("Q5_0");
    expectSpaceError(() => checkTensorTypes(f), "E_UNSUPPORTED", /tensor t0 has type Q5_0 \(id 6\), which is not supported/);
  });

  it("rows that are not whole blocks", () => {
    expectSpaceError(() => read(oneTensorFile({ dims: [33], type: GGML.Q8_0 })), "E_GGUF", /tensor t0 has 33 elements per row, not a multiple of the Q8_0 block size 32/);
  });

  it("tensor data past the end of the file", () => {
    expectSpaceError(() => read(good.subarray(0, good.length - 40), "cut.gguf"), "E_GGUF", /cut\.gguf/, /tensor w4 data \[\d+, \d+\) extends past the end of the file/);
    expectSpaceError(() => read(oneTensorFile({ offset: 2 ** 40 })), "E_GGUF", /extends past the end/);
    expectSpaceError(() => read(oneTensorFile({ offset: 2 ** 62 * 3 })), "E_GGUF", /offset .* past the end of the file/);
  });

  it("misaligned and overlapping tensor offsets", () => {
    expectSpaceError(() => read(oneTensorFile({ offset: 4 })), "E_GGUF", /tensor t0 data offset 4 is not a multiple of the alignment 32/);
    const overlap = new Raw().header(2, 0).tensor("a", [64], GGML.F32, 0).tensor("b", [64], GGML.F32, 256).padTo(32).zeros(512).build();
    expect(read(overlap).tensors.length).toBe(2);
    const bad = new Raw().header(2, 0).tensor("a", [64], GGML.F32, 0).tensor("b", [64], GGML.F32, 224).padTo(32).zeros(512).build();
    expectSpaceError(() => read(bad), "E_GGUF", /tensor b data at byte \d+ overlaps tensor a/);
  });

  it("zero tensors and zero-sized tensors are fine", () => {
    expect(read(new Raw().header(0, 0).build()).tensors).toEqual([]);
    const f = read(new Raw().header(1, 0).tensor("empty", [0, 5], GGML.Q4_K, 0).padTo(32).build());
    expect(f.tensors[0]).toMatchObject({ nElements: 0, byteLength: 0, dims: [0, 5] });
  });

  it("long or odd names are quoted and cut in messages", () => {
    const name = "x".repeat(500) + "\n";
    const e = expectSpaceError(() => read(new Raw().header(2, 0).tensor(name, [32], GGML.F32, 0).tensor(name, [32], GGML.F32, 0).build()), "E_GGUF");
    expect(e.message.length).toBeLessThan(300);
    expect(e.message).toContain('"xxxx');
  });
});

describe("readGGUF: properties", () => {
  it("every truncation is a SpaceError, until the last tensor's data is complete", () => {
    const f = read(good);
    const end = Math.max(...f.tensors.map((t) => t.offset + t.byteLength));
    for (let n = 0; n < good.length; n++) {
      const cut = good.subarray(0, n);
      if (n < end) {
        let err: unknown;
        try {
          read(cut);
        } catch (e) {
          err = e;
        }
        expect(err, `prefix of ${n} bytes`).toBeInstanceOf(SpaceError);
        expect((err as SpaceError).code).toBe("E_GGUF");
      } else {
        expect(read(cut).tensors.length).toBe(3);
      }
    }
  });

  it("random byte changes give a valid parse or a SpaceError, never another exception", () => {
    const f = read(good);
    const headerEnd = f.dataOffset;
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat({ max: headerEnd - 1 }), value: fc.integer({ min: 0, max: 255 }), mode: fc.constantFrom("set", "xor-bit", "ff") }), {
          minLength: 1,
          maxLength: 6,
        }),
        (edits) => {
          const b = good.slice();
          for (const e of edits) {
            if (e.mode === "set") b[e.at] = e.value;
            else if (e.mode === "xor-bit") b[e.at]! ^= 1 << (e.value & 7);
            else b[e.at] = 0xff;
          }
          try {
            read(b);
          } catch (e) {
            if (!(e instanceof SpaceError)) throw e;
            if (!["E_GGUF", "E_UNSUPPORTED"].includes(e.code)) throw e;
          }
        },
      ),
      { numRuns: 3000, seed: 12345 },
    );
  });

  it("random bytes after a valid magic never crash", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom(2, 3), (tail, version) => {
        const b = new Raw().bytes([0x47, 0x47, 0x55, 0x46]).u32(version).bytes(tail).build();
        try {
          read(b);
        } catch (e) {
          if (!(e instanceof SpaceError)) throw e;
        }
      }),
      { numRuns: 3000, seed: 777 },
    );
  });
});

describe("fileSource", () => {
  const dir = mkdtempSync(join(tmpdir(), "space-gguf-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the same as bytesSource", () => {
    const path = join(dir, "small.gguf");
    writeFileSync(path, good);
    const src = fileSource(path);
    try {
      const f = readGGUF(src);
      expect(f.name).toBe(path);
      const g = read(good, path);
      expect(f).toEqual(g);
      const t = f.tensors[1]!;
      expect(src.read(t.offset, t.byteLength)).toEqual(good.subarray(t.offset, t.offset + t.byteLength));
      expectSpaceError(() => src.read(good.length - 1, 2), "E_IO", /small\.gguf/);
    } finally {
      src.close();
    }
    expectSpaceError(() => src.read(0, 1), "E_IO", /after close/);
  });

  it("missing files and directories are E_IO", () => {
    expectSpaceError(() => fileSource(join(dir, "nope.gguf")), "E_IO", /nope\.gguf/);
    expectSpaceError(() => fileSource(dir), "E_IO", /not a regular file/);
  });

  it("bytesSource range checks", () => {
    const s = bytesSource("b", new Uint8Array(4));
    expect(s.read(1, 3).length).toBe(3);
    expectSpaceError(() => s.read(2, 3), "E_IO");
    expectSpaceError(() => s.read(-1, 1), "E_IO");
  });
});
