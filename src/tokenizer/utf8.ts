/**
 * UTF-8 at the edges of the tokenizer. Input given as bytes (a prompt file) is validated strictly, with the
 * offset of the first bad byte in the error; input given as a JS string must be well-formed UTF-16 (a lone
 * surrogate has no UTF-8 form, and silently turning it into U+FFFD would tokenize something the caller never
 * wrote). Output (decoding token bytes) is lenient: invalid sequences become U+FFFD, as in the WHATWG decoder.
 */
import { SpaceError } from "../errors.js";

const ENCODER = new TextEncoder();

/** Where and why a byte sequence stops being UTF-8, or null when it is valid. */
export interface Utf8Problem {
  /** Offset of the first byte of the offending sequence. */
  offset: number;
  reason: string;
}

function hex(b: number): string {
  return "0x" + b.toString(16).padStart(2, "0");
}

/** Finds the first invalid UTF-8 sequence (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
export function findInvalidUtf8(bytes: Uint8Array): Utf8Problem | null {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b0 = bytes[i]!;
    if (b0 < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
    else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      if (b0 === 0xe0) lo = 0xa0; // overlong below U+0800
      else if (b0 === 0xed) hi = 0x9f; // UTF-16 surrogates U+D800..U+DFFF
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      if (b0 === 0xf0) lo = 0x90; // overlong below U+10000
      else if (b0 === 0xf4) hi = 0x8f; // above U+10FFFF
    } else if (b0 >= 0x80 && b0 <= 0xbf) {
      return { offset: i, reason: `unexpected continuation byte ${hex(b0)}` };
    } else {
      return { offset: i, reason: `byte ${hex(b0)} never appears in UTF-8` };
    }
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return { offset: i, reason: `truncated ${need + 1}-byte sequence at end of input` };
      const b = bytes[i + k]!;
      const okLo = k === 1 ? lo : 0x80;
      const okHi = k === 1 ? hi : 0xbf;
      if (b < okLo || b > okHi) {
        const what = b >= 0x80 && b <= 0xbf ? "overlong, surrogate or out-of-range sequence" : "incomplete sequence";
        return { offset: i, reason: `${what} (byte ${hex(b)} at ${i + k})` };
      }
    }
    i += need + 1;
  }
  return null;
}

const STRICT = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const LENIENT = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * Decodes bytes that must be UTF-8 (a prompt file, say). A byte-order mark is kept as U+FEFF: stripping it is the
 * caller's choice. Throws SpaceError E_UTF8 "<what>: invalid UTF-8 at byte N (...)".
 */
export function decodeUtf8Strict(bytes: Uint8Array, what: string): string {
  const problem = findInvalidUtf8(bytes);
  if (problem) throw new SpaceError("E_UTF8", `${what}: invalid UTF-8 at byte ${problem.offset} (${problem.reason})`);
  return STRICT.decode(bytes);
}

/** Decodes token bytes for display: invalid sequences become U+FFFD (WHATWG "maximal subpart" replacement). */
export function decodeUtf8Lossy(bytes: Uint8Array): string {
  return LENIENT.decode(bytes);
}

const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Throws SpaceError E_UTF8 when `text` holds a lone surrogate (with the `u` flag a regex sees a valid pair as one
 * code point, so only unpaired halves match).
 */
export function assertWellFormed(text: string, what: string): void {
  const m = LONE_SURROGATE.exec(text);
  if (m) {
    const unit = text.charCodeAt(m.index).toString(16).toUpperCase();
    throw new SpaceError(
      "E_UTF8",
      `${what}: lone surrogate U+${unit} at UTF-16 index ${m.index} has no UTF-8 encoding (invalid UTF-8 text)`,
    );
  }
}

/** UTF-8 bytes of a well-formed string (callers check with assertWellFormed first). */
export function encodeUtf8(text: string): Uint8Array {
  return ENCODER.encode(text);
}
