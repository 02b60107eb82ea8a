/**
 * A small, fully specified random number generator, so that a seed reproduces the same samples in
 * every engine that implements it: xoshiro128** (Blackman & Vigna), state seeded by SplitMix32 from a
 * 32-bit seed. `next()` returns a float in [0, 1) with 24 random bits.
 */
export class Rng {
  private s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // SplitMix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }

  /** A standard normal draw (Box-Muller, cosine branch; two uniforms, the first kept above 1e-12). */
  gaussian(): number {
    return Math.sqrt(-2 * Math.log(Math.max(this.next(), 1e-12))) * Math.cos(2 * Math.PI * this.next());
  }

  /** The four state words, to save a run's position (training checkpoints). */
  getState(): Uint32Array {
    return this.s.slice();
  }

  /** Continues from a state returned by getState(). */
  setState(state: ArrayLike<number>): void {
    if (state.length !== 4) throw new RangeError(`Rng.setState: expected 4 state words, got ${state.length}`);
    for (let i = 0; i < 4; i++) this.s[i] = state[i] >>> 0;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
