/**
 * GPT-2's byte-level alphabet: every byte 0..255 is shown as one printable Unicode character so that a
 * byte-level BPE vocabulary can be stored as ordinary strings. Printable Latin-1 bytes ('!'..'~',
 * '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes (controls, space, DEL, NBSP, soft hyphen)
 * are shifted, in byte order, to U+0100 and up (so a space is 'Ġ' U+0120 and '\n' is 'Ċ' U+010A).
 */

function isSelfMapped(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

/** BYTE_TO_CHAR[b] is the one-character string that stands for byte b. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const out: string[] = new Array<string>(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    out[b] = String.fromCharCode(isSelfMapped(b) ? b : 0x100 + shifted++);
  }
  return out;
})();

/** Code point -> byte, the inverse of BYTE_TO_CHAR (all its characters are below U+0144, so an array). */
const CHAR_TO_BYTE: Int16Array = (() => {
  const out = new Int16Array(0x144).fill(-1);
  for (let b = 0; b < 256; b++) out[BYTE_TO_CHAR[b]!.charCodeAt(0)] = b;
  return out;
})();

/** The byte a byte-level character stands for, or -1 when the code point is not in the alphabet. */
export function byteOfChar(codePoint: number): number {
  return codePoint < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[codePoint]! : -1;
}

const UTF8 = new TextEncoder();

/** Bytes -> their byte-level string. */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]!];
  return s;
}

/**
 * A byte-level string -> the bytes it stands for. A character outside the alphabet (which a well-formed
 * byte-level vocabulary never has) is kept as its own UTF-8 bytes rather than dropped.
 */
export function byteLevelToBytes(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const b = byteOfChar(cp);
    if (b >= 0) out.push(b);
    else for (const u of UTF8.encode(ch)) out.push(u);
  }
  return Uint8Array.from(out);
}
