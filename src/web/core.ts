/**
 * The WebAssembly core in a browser: the .wasm bytes are fetched (or given) and instantiated here, by
 * the page itself. One thread needs no special headers (src/wasm/core.ts only checks that the memory is
 * shared, which Chromium grants any page); worker threads need a cross-origin isolated page.
 */
import { instantiateCore, type CoreChoice, type WasmCore } from "../wasm/core.js";
import { fetchBytes } from "./sources.js";

export interface CoreUrls {
  readonly plain: string | URL;
  /** The relaxed-SIMD build; fetched only when the choice is not "plain". */
  readonly relaxed?: string | URL;
}

/** Fetches and instantiates the core: "plain", "relaxed" (E_WASM where unsupported) or "auto". */
export async function loadCoreFromUrls(urls: CoreUrls, choice: CoreChoice = "auto", fetchImpl: typeof fetch = fetch): Promise<WasmCore> {
  const plain = (await fetchBytes(urls.plain, fetchImpl)) as Uint8Array<ArrayBuffer>;
  const relaxed = choice !== "plain" && urls.relaxed !== undefined ? ((await fetchBytes(urls.relaxed, fetchImpl)) as Uint8Array<ArrayBuffer>) : undefined;
  return instantiateCore(relaxed ? { plain, relaxed } : { plain }, choice);
}
