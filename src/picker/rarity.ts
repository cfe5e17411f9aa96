/**
 * Untouched missing pieces grouped by availability, for rarest-first picking (BEP 3 leaves the policy to
 * clients; rarest-first is what every mainstream client does). Each group is kept as a uniformly random
 * permutation — inserting at a random position and removing by swapping the last element in both preserve
 * that — so taking the first acceptable piece of the lowest group is a random tie-break among equally rare
 * pieces, and moving a piece between groups when a HAVE arrives costs O(1).
 */
export class RarityBuckets {
  /** How many peers that sent a bitfield or HAVEs hold each piece (peers that have everything are not counted). */
  readonly availability: Int32Array;
  private readonly buckets: number[][] = [[]];
  /** Index of the piece inside its bucket, or -1 when it is not in any bucket. */
  private readonly position: Int32Array;

  constructor(
    pieceCount: number,
    private readonly random: () => number,
  ) {
    this.availability = new Int32Array(pieceCount);
    this.position = new Int32Array(pieceCount).fill(-1);
  }

  contains(piece: number): boolean {
    return this.position[piece] >= 0;
  }

  insert(piece: number): void {
    if (this.contains(piece)) return;
    const level = this.availability[piece];
    while (this.buckets.length <= level) this.buckets.push([]);
    const bucket = this.buckets[level];
    bucket.push(piece);
    const last = bucket.length - 1;
    const target = Math.min(last, Math.floor(this.random() * bucket.length));
    const displaced = bucket[target];
    bucket[target] = piece;
    bucket[last] = displaced;
    this.position[displaced] = last;
    this.position[piece] = target;
  }

  remove(piece: number): void {
    const at = this.position[piece];
    if (at < 0) return;
    const bucket = this.buckets[this.availability[piece]];
    const moved = bucket.pop()!;
    if (moved !== piece) {
      bucket[at] = moved;
      this.position[moved] = at;
    }
    this.position[piece] = -1;
  }

  /** Changes a piece's availability by `delta`, moving it to its new group if it is in one. */
  adjust(piece: number, delta: number): void {
    const inBucket = this.contains(piece);
    if (inBucket) this.remove(piece);
    this.availability[piece] += delta;
    if (inBucket) this.insert(piece);
  }

  /**
   * Returns a function yielding successive rarest pieces `accept` agrees to (-1 when there are none). Each
   * call resumes where the previous one stopped, so pieces already rejected are not looked at again; the
   * caller must remove every returned piece before the next call (the last piece of the bucket then takes
   * its place and is looked at next).
   */
  rarestScan(accept: (piece: number) => boolean): () => number {
    let level = 0;
    let at = 0;
    return () => {
      for (; level < this.buckets.length; level++, at = 0) {
        const bucket = this.buckets[level];
        for (; at < bucket.length; at++) if (accept(bucket[at])) return bucket[at];
      }
      return -1;
    };
  }

  /** The rarest piece of all, or -1 when no piece is in a bucket. */
  rarest(): number {
    for (const bucket of this.buckets) if (bucket.length > 0) return bucket[0];
    return -1;
  }

  /** Describes the first broken internal invariant, or returns undefined when the structure is consistent. */
  findInconsistency(): string | undefined {
    let members = 0;
    for (let level = 0; level < this.buckets.length; level++) {
      const bucket = this.buckets[level];
      for (let at = 0; at < bucket.length; at++) {
        const piece = bucket[at];
        if (this.position[piece] !== at) return `piece ${piece} is at ${at} in bucket ${level} but recorded at ${this.position[piece]}`;
        if (this.availability[piece] !== level) return `piece ${piece} with availability ${this.availability[piece]} sits in bucket ${level}`;
      }
      members += bucket.length;
    }
    let positioned = 0;
    for (const at of this.position) if (at >= 0) positioned++;
    if (positioned !== members) return `${positioned} pieces have a position but ${members} are in buckets`;
    for (const count of this.availability) if (count < 0) return 'negative availability';
    return undefined;
  }
}
