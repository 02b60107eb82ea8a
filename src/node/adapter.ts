/** Node edge of adapters: a base-preserving SPACE adapter GGUF file attached to an engine loaded from `modelFile`. */
import { fail } from "../errors.js";
import type { Engine } from "../engine.js";
import { attachAdapter, type AttachedAdapter } from "../decode/decoders.js";
import { decodeAdapter, type AdapterData } from "../model/adapter.js";
import { fileSource } from "./files.js";
import { sha256File } from "./prompts.js";

/** The adapter GGUF at `adapterFile`, decoded (E_MODEL for an empty or malformed file). */
export function readAdapterData(adapterFile: string): AdapterData {
  const source = fileSource(adapterFile); // a regular file: never a FIFO or a device
  let bytes: Uint8Array;
  try {
    bytes = source.read(0, source.byteLength);
  } finally {
    source.close();
  }
  if (bytes.length === 0) fail("E_MODEL", `${adapterFile}: empty file, not an adapter GGUF`);
  return decodeAdapter(bytes, adapterFile);
}

/**
 * Reads the adapter, refuses one trained for another base (E_MODEL: the base file's SHA-256 is compared)
 * and attaches it (decode/decoders.ts attachAdapter). Allocates from the engine's arena: call before
 * creating decoding contexts.
 */
export function readAdapterFile(engine: Engine, modelFile: string, adapterFile: string): AttachedAdapter {
  return attachAdapter(engine, readAdapterData(adapterFile), sha256File(modelFile), modelFile);
}
