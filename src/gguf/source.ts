/**
 * Random-access bytes: an in-memory buffer, a file (src/node/files.ts), later a browser File/Blob.
 */
import { fail } from "../errors.js";

export interface ByteSource {
  /** Shown in error messages (a file path or a label). */
  readonly name: string;
  readonly byteLength: number;
  /**
   * Bytes [offset, offset + length). Throws SpaceError E_IO when the range is not inside the source.
   * The result may be a view of the source's own memory: callers must not modify it.
   */
  read(offset: number, length: number): Uint8Array;
  /**
   * Optional: bytes [offset, offset + dest.length) straight into dest (e.g. a view of WebAssembly
   * memory), with no intermediate buffer; copyInto falls back to read + set.
   */
  readInto?(offset: number, dest: Uint8Array): void;
}

/**
 * Copies bytes [offset, offset + dest.length) of the source into dest. Weights go straight into
 * WebAssembly memory this way: a tensor of tens of MB never has a second, JavaScript-side copy, which
 * would count in the peak RSS until the garbage collector ran.
 */
export function copyInto(source: ByteSource, offset: number, dest: Uint8Array): void {
  if (source.readInto) source.readInto(offset, dest);
  else dest.set(source.read(offset, dest.length));
}

/** Checks a read request against a source's size; shared by every implementation. */
export function checkRange(name: string, byteLength: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > byteLength) {
    fail("E_IO", `${name}: cannot read ${length} bytes at offset ${offset} (size ${byteLength})`);
  }
}

/** A source over bytes already in memory; reads are views, no copy. */
export function bytesSource(name: string, u8: Uint8Array): ByteSource {
  return {
    name,
    byteLength: u8.byteLength,
    read(offset: number, length: number): Uint8Array {
      checkRange(name, u8.byteLength, offset, length);
      return u8.subarray(offset, offset + length);
    },
  };
}
