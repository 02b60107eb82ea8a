/**
 * GGUF (v2 and v3, little-endian) header reader: metadata and tensor directory. Tensor data is not read;
 * each tensor's absolute file offset and byte length are checked against the file and returned.
 *
 * Every malformed input gives a SpaceError (E_GGUF, or E_UNSUPPORTED for a valid file using something we
 * do not implement) naming the file, the field or tensor, and the byte offset. No count read from the
 * file is used to allocate before it has been checked against the bytes that remain.
 */
import { fail } from "../errors.js";
import type { ByteSource } from "./source.js";
import { decodeUtf8, printable } from "./text.js";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  MetaType,
  blockSize,
  describeType,
  isKnownType,
  isMetaType,
  isSupportedType,
  metaScalarSize,
  metaTypeName,
  typeName,
  typeSize,
  type GGUFMetaValue,
  type MetaScalar,
} from "./types.js";

export type { GGUFMetaValue, MetaScalar } from "./types.js";
export { MetaType } from "./types.js";
export { printable } from "./text.js";
export * from "./meta.js";

export interface GGUFTensorInfo {
  name: string;
  type: number;
  typeName: string;
  /** ne0 first (ne0 is the contiguous dimension, the row length of a matrix). */
  dims: number[];
  nElements: number;
  /** Absolute offset of the tensor's data in the file. */
  offset: number;
  byteLength: number;
}

export interface GGUFFile {
  name: string;
  version: number;
  alignment: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  metadata: Map<string, GGUFMetaValue>;
  tensors: GGUFTensorInfo[];
  tensorByName: Map<string, GGUFTensorInfo>;
}

/** Caps on what a header may ask for, on top of "it must fit in the file". */
export interface GGUFLimits {
  maxTensorCount: number;
  maxKVCount: number;
  /** Bytes of one string (key, value, tensor name). */
  maxStringLength: number;
  /** Items of one metadata array. */
  maxArrayLength: number;
  /** Elements of one tensor. */
  maxTensorElements: number;
}

export const DEFAULT_LIMITS: Readonly<GGUFLimits> = {
  maxTensorCount: 1 << 20,
  maxKVCount: 1 << 20,
  maxStringLength: 1 << 26,
  maxArrayLength: 1 << 26,
  maxTensorElements: 2 ** 48,
};

const CHUNK = 1 << 20;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8; // name length, n_dims, type, offset
const MIN_KV_BYTES = 8 + 4 + 1; // key length, value type, smallest value

/**
 * What a read is for, for error messages only: a string, or a function that makes it, so that reading
 * the ~100k items of a vocabulary array builds no description string unless one is needed.
 */
type What = string | (() => string);
const say = (what: What): string => (typeof what === "string" ? what : what());

/** Sequential little-endian reads through a ByteSource, buffered in chunks. */
class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  private bufStart = 0;

  constructor(
    private readonly src: ByteSource,
    private readonly size: number,
  ) {}

  get name(): string {
    return this.src.name;
  }

  remaining(): number {
    return this.size - this.pos;
  }

  /** Fails unless n more bytes exist; `what` names the field. */
  need(n: number, what: What): void {
    if (n > this.size - this.pos) {
      fail("E_GGUF", `${this.name}: truncated GGUF: ${say(what)} needs ${n} bytes at offset ${this.pos}, but the file ends at ${this.size}`);
    }
  }

  /** Makes [pos, pos + n) available in `buf`; returns its index in `buf`. */
  private fill(n: number, what: What): number {
    this.need(n, what);
    const at = this.pos - this.bufStart;
    if (at >= 0 && at + n <= this.buf.length) return at;
    const len = Math.min(Math.max(n, CHUNK), this.size - this.pos);
    this.buf = this.src.read(this.pos, len);
    if (this.buf.length !== len) fail("E_IO", `${this.name}: short read of ${len} bytes at offset ${this.pos}`);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.bufStart = this.pos;
    return 0;
  }

  bytes(n: number, what: What): Uint8Array {
    const at = this.fill(n, what);
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }

  u8(what: What): number {
    const at = this.fill(1, what);
    this.pos += 1;
    return this.buf[at]!;
  }
  i8(what: What): number {
    const at = this.fill(1, what);
    this.pos += 1;
    return this.view.getInt8(at);
  }
  u16(what: What): number {
    const at = this.fill(2, what);
    this.pos += 2;
    return this.view.getUint16(at, true);
  }
  i16(what: What): number {
    const at = this.fill(2, what);
    this.pos += 2;
    return this.view.getInt16(at, true);
  }
  u32(what: What): number {
    const at = this.fill(4, what);
    this.pos += 4;
    return this.view.getUint32(at, true);
  }
  i32(what: What): number {
    const at = this.fill(4, what);
    this.pos += 4;
    return this.view.getInt32(at, true);
  }
  f32(what: What): number {
    const at = this.fill(4, what);
    this.pos += 4;
    return this.view.getFloat32(at, true);
  }
  u64(what: What): bigint {
    const at = this.fill(8, what);
    this.pos += 8;
    return this.view.getBigUint64(at, true);
  }
  i64(what: What): bigint {
    const at = this.fill(8, what);
    this.pos += 8;
    return this.view.getBigInt64(at, true);
  }
  f64(what: What): number {
    const at = this.fill(8, what);
    this.pos += 8;
    return this.view.getFloat64(at, true);
  }
}

class HeaderReader {
  private readonly c: Cursor;
  private readonly file: string;

  constructor(
    private readonly src: ByteSource,
    private readonly limits: GGUFLimits,
  ) {
    const size = src.byteLength;
    if (!Number.isSafeInteger(size) || size < 0) fail("E_IO", `${src.name}: invalid size ${size}`);
    this.c = new Cursor(src, size);
    this.file = src.name;
  }

  private bad(msg: string, at: number): never {
    fail("E_GGUF", `${this.file}: ${msg} (at byte ${at})`);
  }

  /** A u64 count, checked against `limit` and against the bytes left at `minBytesEach` per item. */
  private count(what: What, limit: number, minBytesEach: number): number {
    const at = this.c.pos;
    const v = this.c.u64(what);
    if (v > BigInt(limit)) this.bad(`${say(what)} is ${v}, more than the limit of ${limit}`, at);
    const n = Number(v);
    if (n * minBytesEach > this.c.remaining()) {
      this.bad(`${say(what)} is ${n}, but only ${this.c.remaining()} bytes follow (at least ${minBytesEach} needed per item)`, at);
    }
    return n;
  }

  private string(what: What): string {
    const at = this.c.pos;
    const v = this.c.u64(() => `length of ${say(what)}`);
    if (v > BigInt(this.limits.maxStringLength)) this.bad(`length of ${say(what)} is ${v}, more than the limit of ${this.limits.maxStringLength}`, at);
    const n = Number(v);
    if (n > this.c.remaining()) {
      fail("E_GGUF", `${this.file}: truncated GGUF: ${say(what)} is ${n} bytes long at offset ${at}, but only ${this.c.remaining()} bytes follow`);
    }
    const s = decodeUtf8(this.c.bytes(n, what));
    if (s === undefined) this.bad(`${say(what)} is not valid UTF-8`, at + 8);
    return s;
  }

  private scalar(t: MetaType, what: What): MetaScalar {
    const c = this.c;
    switch (t) {
      case MetaType.UINT8:
        return c.u8(what);
      case MetaType.INT8:
        return c.i8(what);
      case MetaType.UINT16:
        return c.u16(what);
      case MetaType.INT16:
        return c.i16(what);
      case MetaType.UINT32:
        return c.u32(what);
      case MetaType.INT32:
        return c.i32(what);
      case MetaType.FLOAT32:
        return c.f32(what);
      case MetaType.UINT64:
        return c.u64(what);
      case MetaType.INT64:
        return c.i64(what);
      case MetaType.FLOAT64:
        return c.f64(what);
      case MetaType.BOOL: {
        const at = c.pos;
        const b = c.u8(what);
        if (b > 1) this.bad(`${say(what)} is a BOOL with byte value ${b} (must be 0 or 1)`, at);
        return b === 1;
      }
      case MetaType.STRING:
        return this.string(what);
      default:
        // ARRAY is handled by the caller; nothing else reaches here.
        return this.bad(`${say(what)} has type ${metaTypeName(t)} where a scalar is expected`, c.pos);
    }
  }

  private metaType(what: What): MetaType {
    const at = this.c.pos;
    const t = this.c.u32(what);
    if (!isMetaType(t)) this.bad(`${say(what)} is ${t}, not a known GGUF value type`, at);
    return t;
  }

  private value(key: string): GGUFMetaValue {
    const k = printable(key);
    const what = `metadata value of ${k}`;
    const type = this.metaType(`value type of ${k}`);
    if (type !== MetaType.ARRAY) return { type, value: this.scalar(type, what) };
    const itemAt = this.c.pos;
    const itemType = this.metaType(`array item type of ${printable(key)}`);
    if (itemType === MetaType.ARRAY) {
      fail("E_UNSUPPORTED", `${this.file}: metadata key ${printable(key)} is an array of arrays, which is not supported (at byte ${itemAt})`);
    }
    const minEach = itemType === MetaType.STRING ? 8 : metaScalarSize(itemType);
    const n = this.count(`array length of ${printable(key)}`, this.limits.maxArrayLength, minEach);
    const items: MetaScalar[] = new Array<MetaScalar>(n);
    for (let i = 0; i < n; i++) items[i] = this.scalar(itemType, () => `item ${i} of ${k}`);
    return { type, itemType, value: items };
  }

  read(): GGUFFile {
    const c = this.c;
    const file = this.file;
    if (c.remaining() < 4) fail("E_GGUF", `${file}: not a GGUF file (only ${c.remaining()} bytes long)`);
    const magic = c.u32("magic");
    if (magic !== GGUF_MAGIC) {
      const hex = magic.toString(16).padStart(8, "0");
      fail("E_GGUF", `${file}: not a GGUF file (magic 0x${hex} at byte 0, expected "GGUF")`);
    }
    const version = c.u32("version");
    if (version !== 2 && version !== 3) {
      const swapped = ((version & 0xff) << 24) | ((version >>> 8) & 0xff) << 16 | ((version >>> 16) & 0xff) << 8 | (version >>> 24);
      if (swapped === 2 || swapped === 3) fail("E_UNSUPPORTED", `${file}: big-endian GGUF is not supported (at byte 4)`);
      fail("E_UNSUPPORTED", `${file}: GGUF version ${version} is not supported (only versions 2 and 3; at byte 4)`);
    }
    const nTensors = this.count("tensor_count", this.limits.maxTensorCount, MIN_TENSOR_INFO_BYTES);
    const nKV = this.count("metadata_kv_count", this.limits.maxKVCount, MIN_KV_BYTES);
    if (nTensors * MIN_TENSOR_INFO_BYTES + nKV * MIN_KV_BYTES > c.remaining()) {
      this.bad(`tensor_count ${nTensors} and metadata_kv_count ${nKV} need more bytes than the ${c.remaining()} that follow`, 8);
    }

    const metadata = new Map<string, GGUFMetaValue>();
    for (let i = 0; i < nKV; i++) {
      const at = c.pos;
      const key = this.string(`metadata key #${i}`);
      if (metadata.has(key)) this.bad(`duplicate metadata key ${printable(key)}`, at);
      metadata.set(key, this.value(key));
    }

    let alignment = GGUF_DEFAULT_ALIGNMENT;
    const al = metadata.get("general.alignment");
    if (al !== undefined) {
      const v = al.value;
      const isInt = al.type !== MetaType.ARRAY && al.type !== MetaType.FLOAT32 && al.type !== MetaType.FLOAT64 && typeof v !== "boolean" && typeof v !== "string";
      const n = isInt ? Number(v) : NaN;
      if (!isInt || !Number.isSafeInteger(n) || n <= 0 || n > 1 << 30 || (n & (n - 1)) !== 0) {
        fail("E_GGUF", `${file}: metadata key general.alignment must be a power of two integer (got ${metaTypeName(al.type)} ${String(v).slice(0, 40)})`);
      }
      alignment = n;
    }

    const infos: { name: string; type: number; dims: number[]; nElements: number; rel: number; byteLength: number; at: number }[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < nTensors; i++) {
      const at = c.pos;
      const name = this.string(`tensor #${i} name`);
      const tn = `tensor ${printable(name)}`;
      if (seen.has(name)) this.bad(`duplicate ${tn}`, at);
      seen.add(name);
      const dimsAt = c.pos;
      const nDims = c.u32(`${tn} n_dims`);
      if (nDims > GGUF_MAX_DIMS) this.bad(`${tn} has ${nDims} dimensions (at most ${GGUF_MAX_DIMS})`, dimsAt);
      const dims: number[] = [];
      let nElements = 1;
      for (let d = 0; d < nDims; d++) {
        const dAt = c.pos;
        const v = c.u64(`${tn} dimension ${d}`);
        if (v > BigInt(this.limits.maxTensorElements)) this.bad(`${tn} dimension ${d} is ${v}, more than the limit of ${this.limits.maxTensorElements} elements`, dAt);
        dims.push(Number(v));
        nElements *= Number(v);
        if (nElements > this.limits.maxTensorElements) {
          this.bad(`${tn} has dimensions [${dims}...] whose product exceeds the limit of ${this.limits.maxTensorElements} elements`, dAt);
        }
      }
      const typeAt = c.pos;
      const type = c.u32(`${tn} type`);
      if (!isKnownType(type)) {
        fail("E_UNSUPPORTED", `${file}: ${tn} has type ${describeType(type)}, which this reader does not know (at byte ${typeAt})`);
      }
      const ne0 = nDims > 0 ? dims[0]! : 1;
      const bs = blockSize(type);
      if (ne0 % bs !== 0) this.bad(`${tn} has ${ne0} elements per row, not a multiple of the ${typeName(type)} block size ${bs}`, dimsAt);
      const offAt = c.pos;
      const off = c.u64(`${tn} offset`);
      if (off > BigInt(Number.MAX_SAFE_INTEGER)) this.bad(`${tn} data offset ${off} is past the end of the file`, offAt);
      const rel = Number(off);
      if (rel % alignment !== 0) this.bad(`${tn} data offset ${rel} is not a multiple of the alignment ${alignment}`, offAt);
      infos.push({ name, type, dims, nElements, rel, byteLength: (nElements / bs) * typeSize(type), at: offAt });
    }

    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    const size = this.src.byteLength;
    const tensors: GGUFTensorInfo[] = [];
    const tensorByName = new Map<string, GGUFTensorInfo>();
    for (const t of infos) {
      const offset = dataOffset + t.rel;
      if (offset + t.byteLength > size) {
        this.bad(
          `tensor ${printable(t.name)} data [${offset}, ${offset + t.byteLength}) extends past the end of the file (${size} bytes)`,
          t.at,
        );
      }
      const info: GGUFTensorInfo = {
        name: t.name,
        type: t.type,
        typeName: typeName(t.type),
        dims: t.dims,
        nElements: t.nElements,
        offset,
        byteLength: t.byteLength,
      };
      tensors.push(info);
      tensorByName.set(t.name, info);
    }
    const byStart = tensors.filter((t) => t.byteLength > 0).sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < byStart.length; i++) {
      const prev = byStart[i - 1]!;
      const cur = byStart[i]!;
      if (cur.offset < prev.offset + prev.byteLength) {
        fail("E_GGUF", `${file}: tensor ${printable(cur.name)} data at byte ${cur.offset} overlaps tensor ${printable(prev.name)} [${prev.offset}, ${prev.offset + prev.byteLength})`);
      }
    }
    return { name: file, version, alignment, dataOffset, metadata, tensors, tensorByName };
  }
}

/** Reads and validates a GGUF header (metadata and tensor directory; tensor data is not read). */
export function readGGUF(source: ByteSource, limits?: Partial<GGUFLimits>): GGUFFile {
  const all: GGUFLimits = { ...DEFAULT_LIMITS, ...limits };
  for (const [k, v] of Object.entries(all)) {
    if (!Number.isSafeInteger(v) || v < 0) fail("E_ARGS", `readGGUF: limit ${k} must be a non-negative integer (got ${String(v)})`);
  }
  return new HeaderReader(source, all).read();
}

/** E_UNSUPPORTED for the first tensor whose type this engine cannot compute with. */
export function checkTensorTypes(f: GGUFFile): void {
  for (const t of f.tensors) assertTensorSupported(f, t);
}

/** E_UNSUPPORTED: "<file>: tensor blk.0.attn_q.weight has type IQ2_XXS (id 16), which is not supported". */
export function assertTensorSupported(f: GGUFFile, t: GGUFTensorInfo): void {
  if (!isSupportedType(t.type)) fail("E_UNSUPPORTED", `${f.name}: tensor ${printable(t.name)} has type ${describeType(t.type)}, which is not supported`);
}
