/**
 * The WebAssembly core's bytes in a browser: fetched by the page itself, then instantiated by the
 * library (loadModel). One thread needs no special headers (src/wasm/core.ts only checks that the memory
 * is shared, which Chromium grants any page); worker threads need a cross-origin isolated page.
 */
import type { CoreChoice } from "../wasm/core.js";
import type { WasmBytes } from "../api/index.js";
import { fetchBytes } from "./sources.js";

export interface CoreUrls {
  readonly plain: string | URL;
  /** The relaxed-SIMD build; fetched only when the choice is not "plain". */
  readonly relaxed?: string | URL;
}

/** Fetches the builds `choice` may use: "plain" needs only the plain one. */
export async function fetchCoreBytes(urls: CoreUrls, choice: CoreChoice = "auto", fetchImpl: typeof fetch = fetch): Promise<WasmBytes> {
  const plain = await fetchBytes(urls.plain, fetchImpl);
  if (choice === "plain" || urls.relaxed === undefined) return { plain };
  return { plain, relaxed: await fetchBytes(urls.relaxed, fetchImpl) };
}
