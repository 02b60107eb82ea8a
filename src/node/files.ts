/**
 * Node-only file access: a ByteSource over an open file, so a large model's header is read without
 * reading the whole file.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { fail } from "../errors.js";
import { checkRange, type ByteSource } from "../gguf/source.js";

export interface FileSource extends ByteSource {
  /** Closes the file; later reads fail with E_IO. */
  close(): void;
}

/** Opens `path` for reading; E_IO when it cannot be opened or is not a regular file. */
export function fileSource(path: string): FileSource {
  let fd: number | undefined;
  let size: number;
  try {
    // Checked before opening: opening a FIFO for reading blocks until a writer appears.
    if (!statSync(path).isFile()) throw new Error("not a regular file: pipes and devices cannot be read as a model");
    fd = openSync(path, "r");
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error("not a regular file");
    size = st.size;
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    fail("E_IO", `${path}: cannot open for reading (${(e as Error).message})`);
  }
  let open = true;
  return {
    name: path,
    byteLength: size,
    read(offset: number, length: number): Uint8Array {
      const out = new Uint8Array(length);
      this.readInto!(offset, out);
      return out;
    },
    readInto(offset: number, out: Uint8Array): void {
      const length = out.length;
      if (!open) fail("E_IO", `${path}: read after close`);
      checkRange(path, size, offset, length);
      let done = 0;
      try {
        while (done < length) {
          const n = readSync(fd!, out, done, length - done, offset + done);
          if (n <= 0) throw new Error("unexpected end of file (was it truncated while open?)");
          done += n;
        }
      } catch (e) {
        fail("E_IO", `${path}: cannot read ${length} bytes at offset ${offset} (${(e as Error).message})`);
      }
    },
    close(): void {
      if (open) {
        open = false;
        closeSync(fd!);
      }
    },
  };
}
