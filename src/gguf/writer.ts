/**
 * GGUF v3 writer (little-endian), for building test models and converting files. The whole file is
 * produced in memory. Tensor data is laid out in the order given, each tensor at a multiple of the
 * alignment and padded with zeros to the next multiple (the last one too, as llama.cpp does).
 */
import { fail } from "../errors.js";
import { printable } from "./text.js";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  MetaType,
  blockSize,
  describeType,
  isKnownType,
  isMetaType,
  metaScalarSize,
  metaTypeName,
  typeSize,
  type GGUFMetaValue,
  type MetaScalar,
} from "./types.js";

export interface GGUFTensorSpec {
  name: string;
  type: number;
  /** ne0 first. */
  dims: number[];
  /** Exactly the tensor's bytes (rowBytes(type, ne0) * rows). */
  data: Uint8Array;
}

export interface GGUFWriteSpec {
  metadata: Map<string, GGUFMetaValue> | Iterable<readonly [string, GGUFMetaValue]>;
  tensors: readonly GGUFTensorSpec[];
  /** Power of two; default 32. When not 32, general.alignment (UINT32) is written unless already present. */
  alignment?: number;
}

const encoder = new TextEncoder();

function bad(msg: string): never {
  fail("E_GGUF", `writeGGUF: ${msg}`);
}

const INT_RANGES: Partial<Record<MetaType, [number, number]>> = {
  [MetaType.UINT8]: [0, 0xff],
  [MetaType.INT8]: [-0x80, 0x7f],
  [MetaType.UINT16]: [0, 0xffff],
  [MetaType.INT16]: [-0x8000, 0x7fff],
  [MetaType.UINT32]: [0, 0xffffffff],
  [MetaType.INT32]: [-0x80000000, 0x7fffffff],
};

/** Little-endian output into a buffer sized in advance. */
class Out {
  readonly u8: Uint8Array;
  private readonly view: DataView;
  pos = 0;
  constructor(size: number) {
    this.u8 = new Uint8Array(size);
    this.view = new DataView(this.u8.buffer);
  }
  u32(v: number): void {
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  u64(v: number | bigint): void {
    this.view.setBigUint64(this.pos, BigInt(v), true);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.u8.set(b, this.pos);
    this.pos += b.length;
  }
  str(b: Uint8Array): void {
    this.u64(b.length);
    this.bytes(b);
  }
  scalar(t: MetaType, v: MetaScalar): void {
    const d = this.view;
    const p = this.pos;
    switch (t) {
      case MetaType.UINT8:
        d.setUint8(p, v as number);
        break;
      case MetaType.INT8:
        d.setInt8(p, v as number);
        break;
      case MetaType.UINT16:
        d.setUint16(p, v as number, true);
        break;
      case MetaType.INT16:
        d.setInt16(p, v as number, true);
        break;
      case MetaType.UINT32:
        d.setUint32(p, v as number, true);
        break;
      case MetaType.INT32:
        d.setInt32(p, v as number, true);
        break;
      case MetaType.FLOAT32:
        d.setFloat32(p, v as number, true);
        break;
      case MetaType.FLOAT64:
        d.setFloat64(p, v as number, true);
        break;
      case MetaType.UINT64:
        d.setBigUint64(p, BigInt(v as number | bigint), true);
        break;
      case MetaType.INT64:
        d.setBigInt64(p, BigInt(v as number | bigint), true);
        break;
      case MetaType.BOOL:
        d.setUint8(p, v ? 1 : 0);
        break;
      default:
        throw new Error("unreachable");
    }
    this.pos += metaScalarSize(t);
  }
}

/** Validates one scalar; returns its encoded size (strings are encoded into `strings`). */
function checkScalar(t: MetaType, v: MetaScalar, where: string, strings: Map<string, Uint8Array>): number {
  if (t === MetaType.STRING) {
    if (typeof v !== "string") bad(`${where} must be a string for type STRING`);
    let b = strings.get(v);
    if (b === undefined) {
      b = encoder.encode(v);
      strings.set(v, b);
    }
    return 8 + b.length;
  }
  if (t === MetaType.BOOL) {
    if (typeof v !== "boolean") bad(`${where} must be a boolean for type BOOL`);
    return 1;
  }
  if (t === MetaType.FLOAT32 || t === MetaType.FLOAT64) {
    if (typeof v !== "number") bad(`${where} must be a number for type ${metaTypeName(t)}`);
    return metaScalarSize(t);
  }
  if (t === MetaType.UINT64 || t === MetaType.INT64) {
    if (typeof v === "number" && !Number.isSafeInteger(v)) bad(`${where} must be a bigint or a safe integer for type ${metaTypeName(t)}`);
    if (typeof v !== "number" && typeof v !== "bigint") bad(`${where} must be a bigint for type ${metaTypeName(t)}`);
    const b = BigInt(v);
    const ok = t === MetaType.UINT64 ? b >= 0n && b < 1n << 64n : b >= -(1n << 63n) && b < 1n << 63n;
    if (!ok) bad(`${where} value ${b} is out of range for ${metaTypeName(t)}`);
    return 8;
  }
  const range = INT_RANGES[t];
  if (range === undefined) bad(`${where} has type ${metaTypeName(t)} where a scalar type is expected`);
  if (typeof v !== "number" || !Number.isInteger(v) || v < range[0] || v > range[1]) {
    bad(`${where} value ${String(v)} is not an integer in range for ${metaTypeName(t)}`);
  }
  return metaScalarSize(t);
}

/** Encoded size of a value (type tag included). */
function checkValue(key: string, m: GGUFMetaValue, strings: Map<string, Uint8Array>): number {
  const where = `metadata ${printable(key)}`;
  if (!isMetaType(m.type)) bad(`${where} has unknown type ${String(m.type)}`);
  if (m.type !== MetaType.ARRAY) {
    if (Array.isArray(m.value)) bad(`${where} has type ${metaTypeName(m.type)} but an array value`);
    return 4 + checkScalar(m.type, m.value, where, strings);
  }
  const it = m.itemType;
  if (it === undefined || !isMetaType(it) || it === MetaType.ARRAY) bad(`${where} is an ARRAY without a valid scalar itemType`);
  if (!Array.isArray(m.value)) bad(`${where} has type ARRAY but a non-array value`);
  let size = 4 + 4 + 8;
  for (let i = 0; i < m.value.length; i++) size += checkScalar(it, m.value[i]!, `${where} item ${i}`, strings);
  return size;
}

/** Serialises a GGUF v3 file. */
export function writeGGUF(spec: GGUFWriteSpec): Uint8Array {
  const entries: [string, GGUFMetaValue][] = [];
  const keys = new Set<string>();
  for (const [k, v] of spec.metadata) {
    if (typeof k !== "string") bad(`metadata key ${String(k)} is not a string`);
    if (keys.has(k)) bad(`duplicate metadata key ${printable(k)}`);
    keys.add(k);
    entries.push([k, v]);
  }

  const al = entries.find(([k]) => k === "general.alignment")?.[1];
  let alignment = spec.alignment;
  if (al !== undefined) {
    const v = Array.isArray(al.value) ? NaN : Number(al.value);
    if (alignment !== undefined && v !== alignment) bad(`alignment ${alignment} differs from metadata general.alignment ${String(al.value)}`);
    alignment = v;
  }
  alignment ??= GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isSafeInteger(alignment) || alignment <= 0 || alignment > 1 << 30 || (alignment & (alignment - 1)) !== 0) {
    bad(`alignment ${String(alignment)} is not a power of two`);
  }
  if (alignment !== GGUF_DEFAULT_ALIGNMENT && al === undefined) {
    entries.push(["general.alignment", { type: MetaType.UINT32, value: alignment }]);
  }

  const strings = new Map<string, Uint8Array>();
  let size = 4 + 4 + 8 + 8;
  for (const [k, v] of entries) size += checkScalar(MetaType.STRING, k, `metadata key ${printable(k)}`, strings) + checkValue(k, v, strings);

  const names = new Set<string>();
  const rel: number[] = [];
  let dataSize = 0;
  for (const t of spec.tensors) {
    const tn = `tensor ${printable(t.name)}`;
    if (names.has(t.name)) bad(`duplicate ${tn}`);
    names.add(t.name);
    if (!isKnownType(t.type)) bad(`${tn} has type ${describeType(t.type)}, which has no known layout`);
    if (t.dims.length > GGUF_MAX_DIMS) bad(`${tn} has ${t.dims.length} dimensions (at most ${GGUF_MAX_DIMS})`);
    let n = 1;
    for (const d of t.dims) {
      if (!Number.isSafeInteger(d) || d < 0) bad(`${tn} has invalid dimension ${d}`);
      n *= d;
    }
    if (!Number.isSafeInteger(n)) bad(`${tn} has too many elements`);
    const ne0 = t.dims.length > 0 ? t.dims[0]! : 1;
    if (ne0 % blockSize(t.type) !== 0) bad(`${tn} row of ${ne0} elements is not a multiple of the block size ${blockSize(t.type)}`);
    const bytes = (n / blockSize(t.type)) * typeSize(t.type);
    if (t.data.length !== bytes) bad(`${tn} has ${t.data.length} bytes of data, expected ${bytes}`);
    size += checkScalar(MetaType.STRING, t.name, tn, strings) + 4 + 8 * t.dims.length + 4 + 8;
    rel.push(dataSize);
    dataSize += Math.ceil(bytes / alignment) * alignment;
  }
  const dataOffset = Math.ceil(size / alignment) * alignment;
  const out = new Out(dataOffset + dataSize);

  out.u32(GGUF_MAGIC);
  out.u32(3);
  out.u64(spec.tensors.length);
  out.u64(entries.length);
  for (const [k, m] of entries) {
    out.str(strings.get(k)!);
    out.u32(m.type);
    if (m.type === MetaType.ARRAY) {
      const it = m.itemType!;
      const items = m.value as MetaScalar[];
      out.u32(it);
      out.u64(items.length);
      for (const v of items) {
        if (it === MetaType.STRING) out.str(strings.get(v as string)!);
        else out.scalar(it, v);
      }
    } else if (m.type === MetaType.STRING) {
      out.str(strings.get(m.value as string)!);
    } else {
      out.scalar(m.type, m.value as MetaScalar);
    }
  }
  spec.tensors.forEach((t, i) => {
    out.str(strings.get(t.name)!);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(t.type);
    out.u64(rel[i]!);
  });
  spec.tensors.forEach((t, i) => {
    out.pos = dataOffset + rel[i]!;
    out.bytes(t.data);
  });
  return out.u8;
}
