/**
 * GGML tensor types and GGUF metadata value types.
 *
 * Block layouts (llama.cpp's, little-endian; "f16" is an IEEE half):
 *  - Q4_0 (32 elements, 18 bytes): d: f16, qs: u8[16]. Element j < 16 is the low nibble of qs[j],
 *    element j + 16 its high nibble.
 *  - Q4_1 (32, 20): d: f16, m: f16, qs: u8[16] (nibbles as Q4_0).
 *  - Q8_0 (32, 34): d: f16, qs: i8[32].
 *  - Q4_K (256, 144): d: f16, dmin: f16, scales: u8[12] (eight 6-bit scales and eight 6-bit mins),
 *    qs: u8[128]. Four 64-element chunks; chunk c uses qs[32c .. 32c+32): its first 32 elements are the
 *    low nibbles (sub-block 2c), the next 32 the high nibbles (sub-block 2c+1).
 *  - Q6_K (256, 210): ql: u8[128], qh: u8[64], scales: i8[16], d: f16. Two 128-element halves.
 *  - F32 (1, 4), F16 (1, 2), BF16 (1, 2).
 * See dequant.ts for the exact formulas.
 */

/** GGML tensor type ids (the numbering of ggml.h). */
export const GGML = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
} as const;

export type GGMLTypeName = keyof typeof GGML;

interface TypeTraits {
  readonly name: string;
  /** Elements per block; 0 for ids that ggml retired (no layout is defined for them any more). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

const TRAITS: ReadonlyMap<number, TypeTraits> = new Map<number, TypeTraits>([
  [0, { name: "F32", blockSize: 1, typeSize: 4 }],
  [1, { name: "F16", blockSize: 1, typeSize: 2 }],
  [2, { name: "Q4_0", blockSize: 32, typeSize: 18 }],
  [3, { name: "Q4_1", blockSize: 32, typeSize: 20 }],
  [4, { name: "Q4_2", blockSize: 0, typeSize: 0 }], // retired
  [5, { name: "Q4_3", blockSize: 0, typeSize: 0 }], // retired
  [6, { name: "Q5_0", blockSize: 32, typeSize: 22 }],
  [7, { name: "Q5_1", blockSize: 32, typeSize: 24 }],
  [8, { name: "Q8_0", blockSize: 32, typeSize: 34 }],
  [9, { name: "Q8_1", blockSize: 32, typeSize: 40 }],
  [10, { name: "Q2_K", blockSize: 256, typeSize: 84 }],
  [11, { name: "Q3_K", blockSize: 256, typeSize: 110 }],
  [12, { name: "Q4_K", blockSize: 256, typeSize: 144 }],
  [13, { name: "Q5_K", blockSize: 256, typeSize: 176 }],
  [14, { name: "Q6_K", blockSize: 256, typeSize: 210 }],
  [15, { name: "Q8_K", blockSize: 256, typeSize: 292 }],
  [16, { name: "IQ2_XXS", blockSize: 256, typeSize: 66 }],
  [17, { name: "IQ2_XS", blockSize: 256, typeSize: 74 }],
  [18, { name: "IQ3_XXS", blockSize: 256, typeSize: 98 }],
  [19, { name: "IQ1_S", blockSize: 256, typeSize: 50 }],
  [20, { name: "IQ4_NL", blockSize: 32, typeSize: 18 }],
  [21, { name: "IQ3_S", blockSize: 256, typeSize: 110 }],
  [22, { name: "IQ2_S", blockSize: 256, typeSize: 82 }],
  [23, { name: "IQ4_XS", blockSize: 256, typeSize: 136 }],
  [24, { name: "I8", blockSize: 1, typeSize: 1 }],
  [25, { name: "I16", blockSize: 1, typeSize: 2 }],
  [26, { name: "I32", blockSize: 1, typeSize: 4 }],
  [27, { name: "I64", blockSize: 1, typeSize: 8 }],
  [28, { name: "F64", blockSize: 1, typeSize: 8 }],
  [29, { name: "IQ1_M", blockSize: 256, typeSize: 56 }],
  [30, { name: "BF16", blockSize: 1, typeSize: 2 }],
  [31, { name: "Q4_0_4_4", blockSize: 0, typeSize: 0 }], // retired
  [32, { name: "Q4_0_4_8", blockSize: 0, typeSize: 0 }], // retired
  [33, { name: "Q4_0_8_8", blockSize: 0, typeSize: 0 }], // retired
  [34, { name: "TQ1_0", blockSize: 256, typeSize: 54 }],
  [35, { name: "TQ2_0", blockSize: 256, typeSize: 66 }],
  [36, { name: "IQ4_NL_4_4", blockSize: 0, typeSize: 0 }], // retired
  [37, { name: "IQ4_NL_4_8", blockSize: 0, typeSize: 0 }], // retired
  [38, { name: "IQ4_NL_8_8", blockSize: 0, typeSize: 0 }], // retired
  [39, { name: "MXFP4", blockSize: 32, typeSize: 17 }],
]);

/** The types this engine can dequantise and multiply. */
export const SUPPORTED_TYPES: readonly number[] = [GGML.F32, GGML.F16, GGML.Q4_0, GGML.Q4_1, GGML.Q8_0, GGML.Q4_K, GGML.Q6_K, GGML.BF16];
const SUPPORTED_SET: ReadonlySet<number> = new Set(SUPPORTED_TYPES);

export function isSupportedType(type: number): boolean {
  return SUPPORTED_SET.has(type);
}

/** True when the id names a type whose block layout is known (supported or not). */
export function isKnownType(type: number): boolean {
  const t = TRAITS.get(type);
  return t !== undefined && t.blockSize > 0;
}

/** "Q4_1", or "unknown" for an id ggml never defined. */
export function typeName(type: number): string {
  return TRAITS.get(type)?.name ?? "unknown";
}

/** "Q4_1 (id 3)": the form error messages use. */
export function describeType(type: number): string {
  return `${typeName(type)} (id ${type})`;
}

/** Elements per block; throws (a programming error) for an id without a known layout. */
export function blockSize(type: number): number {
  return traits(type).blockSize;
}

/** Bytes per block; throws (a programming error) for an id without a known layout. */
export function typeSize(type: number): number {
  return traits(type).typeSize;
}

/** Bytes of one row of `ne0` elements; `ne0` must be a multiple of the block size. */
export function rowBytes(type: number, ne0: number): number {
  const t = traits(type);
  if (!Number.isSafeInteger(ne0) || ne0 < 0 || ne0 % t.blockSize !== 0) {
    throw new RangeError(`rowBytes: ${ne0} elements is not a whole number of ${t.name} blocks (${t.blockSize})`);
  }
  return (ne0 / t.blockSize) * t.typeSize;
}

function traits(type: number): TypeTraits {
  const t = TRAITS.get(type);
  if (t === undefined || t.blockSize === 0) throw new RangeError(`GGML type ${describeType(type)} has no known block layout`);
  return t;
}

/** GGUF metadata value types. */
export const MetaType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type MetaType = (typeof MetaType)[keyof typeof MetaType];

const META_NAMES = ["UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"];

export function isMetaType(t: number): t is MetaType {
  return Number.isInteger(t) && t >= 0 && t <= 12;
}

export function metaTypeName(t: number): string {
  return isMetaType(t) ? META_NAMES[t]! : `unknown (${t})`;
}

/** Fixed byte size of a scalar metadata type; 0 for STRING and ARRAY (variable). */
export function metaScalarSize(t: MetaType): number {
  switch (t) {
    case MetaType.UINT8:
    case MetaType.INT8:
    case MetaType.BOOL:
      return 1;
    case MetaType.UINT16:
    case MetaType.INT16:
      return 2;
    case MetaType.UINT32:
    case MetaType.INT32:
    case MetaType.FLOAT32:
      return 4;
    case MetaType.UINT64:
    case MetaType.INT64:
    case MetaType.FLOAT64:
      return 8;
    default:
      return 0;
  }
}

export type MetaScalar = number | bigint | boolean | string;

/**
 * One metadata value. UINT64 / INT64 values are bigints; the other numeric types are numbers.
 * For ARRAY, `value` is the items and `itemType` their type (arrays of arrays are not supported,
 * as in llama.cpp).
 */
export interface GGUFMetaValue {
  type: MetaType;
  value: MetaScalar | MetaScalar[];
  itemType?: MetaType;
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGUF_MAX_DIMS = 4;
