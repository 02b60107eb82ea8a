/**
 * Byte sources for browsers: a model from a URL (fetch), a File or a Blob. A ByteSource reads
 * synchronously (the GGUF reader and the weight loader are synchronous), so the bytes are brought into
 * memory first, once; the weights are then copied into WebAssembly memory and the JavaScript copy can go.
 * Also works in Node (fetch, Blob and File are globals there), which is where it is unit-tested.
 */
import { fail } from "../errors.js";
import { bytesSource, type ByteSource } from "../gguf/source.js";

/** Reads the whole response body, with the URL and HTTP status in the error. */
export async function fetchBytes(url: string | URL, fetchImpl: typeof fetch = fetch): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetchImpl(url);
  } catch (e) {
    fail("E_IO", `${String(url)}: cannot fetch (${(e as Error).message})`);
  }
  if (!response.ok) fail("E_IO", `${String(url)}: HTTP ${response.status} ${response.statusText}`.trim());
  return new Uint8Array(await response.arrayBuffer());
}

/** A model (or adapter) at a URL. */
export async function urlSource(url: string | URL, fetchImpl: typeof fetch = fetch): Promise<ByteSource & { bytes: Uint8Array }> {
  const bytes = await fetchBytes(url, fetchImpl);
  return { ...bytesSource(String(url), bytes), bytes };
}

/** A model (or adapter) from a File (an <input type="file">, a drop) or any Blob. */
export async function blobSource(blob: Blob, name = blob instanceof File ? blob.name : "blob"): Promise<ByteSource & { bytes: Uint8Array }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await blob.arrayBuffer());
  } catch (e) {
    fail("E_IO", `${name}: cannot read (${(e as Error).message})`);
  }
  return { ...bytesSource(name, bytes), bytes };
}

/**
 * A text file from a File or Blob (UTF-8): a distilled JSONL file for an n-gram store, gzip-compressed
 * when its name ends in .gz (data/distilled/ ships it so), inflated by the platform's DecompressionStream.
 */
export async function blobText(blob: Blob, name = blob instanceof File ? blob.name : "blob"): Promise<string> {
  try {
    const stream = name.endsWith(".gz") ? blob.stream().pipeThrough(new DecompressionStream("gzip")) : blob.stream();
    return new TextDecoder("utf-8", { fatal: true }).decode(await new Response(stream).arrayBuffer());
  } catch (e) {
    fail("E_IO", `${name}: cannot read${name.endsWith(".gz") ? " as gzip-compressed UTF-8 text" : " as UTF-8 text"} (${(e as Error).message})`);
  }
}
