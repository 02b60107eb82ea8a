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
