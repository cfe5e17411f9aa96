/**
 * A set of piece indices packed as BEP 3's wire bitfield: the high bit of byte 0 is piece 0. Spare bits at
 * the end of the last byte are always zero (a peer that sets them is violating BEP 3).
 */
export class Bitfield {
  readonly bytes: Uint8Array;
  private setCount = 0;

  constructor(
    readonly length: number,
    bytes?: Uint8Array,
  ) {
    const size = Bitfield.byteLength(length);
    if (bytes) {
      if (bytes.length !== size) throw new RangeError(`bitfield of ${bytes.length} bytes, expected ${size}`);
      this.bytes = Uint8Array.from(bytes);
      const spare = size * 8 - length;
      if (spare > 0 && (this.bytes[size - 1] & ((1 << spare) - 1)) !== 0) {
        throw new RangeError('bitfield has spare bits set past the last piece');
      }
      for (const b of this.bytes) this.setCount += popcount(b);
    } else {
      this.bytes = new Uint8Array(size);
    }
  }

  static byteLength(length: number): number {
    return Math.ceil(length / 8);
  }

  static full(length: number): Bitfield {
    const b = new Bitfield(length);
    for (let i = 0; i < length; i++) b.set(i);
    return b;
  }

  get count(): number {
    return this.setCount;
  }

  get complete(): boolean {
    return this.setCount === this.length;
  }

  has(index: number): boolean {
    if (index < 0 || index >= this.length) return false;
    return (this.bytes[index >> 3] & (0x80 >> (index & 7))) !== 0;
  }

  set(index: number): void {
    this.check(index);
    const mask = 0x80 >> (index & 7);
    if ((this.bytes[index >> 3] & mask) === 0) {
      this.bytes[index >> 3] |= mask;
      this.setCount++;
    }
  }

  clear(index: number): void {
    this.check(index);
    const mask = 0x80 >> (index & 7);
    if ((this.bytes[index >> 3] & mask) !== 0) {
      this.bytes[index >> 3] &= ~mask;
      this.setCount--;
    }
  }

  /** Indices that are set, in order. */
  *indices(): IterableIterator<number> {
    for (let i = 0; i < this.length; i++) if (this.has(i)) yield i;
  }

  clone(): Bitfield {
    return new Bitfield(this.length, this.bytes);
  }

  private check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`piece index ${index} out of range 0..${this.length - 1}`);
    }
  }
}

function popcount(b: number): number {
  let n = 0;
  while (b) {
    n += b & 1;
    b >>= 1;
  }
  return n;
}
