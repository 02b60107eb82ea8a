/** Text helpers shared by the GGUF reader and writer. */

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A name as it appears in a message: as is when plain and short, else quoted and cut. */
export function printable(s: string): string {
  if (s.length <= 96 && /^[\x21-\x7e]+$/.test(s)) return s;
  const cut = s.length > 96 ? s.slice(0, 96) + "..." : s;
  return JSON.stringify(cut);
}

/** Strict UTF-8 decoding (a leading BOM is kept); undefined when the bytes are not valid UTF-8. */
export function decodeUtf8(b: Uint8Array): string | undefined {
  if (b.length <= 64) {
    let s = "";
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c >= 0x80) return decodeSlow(b);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decodeSlow(b);
}

function decodeSlow(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}
