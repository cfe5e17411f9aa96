/**
 * Serving peers reads whole pieces: a peer asks for a piece's blocks one after another, so one large read
 * answers many 16 KiB requests. Pieces are kept, least recently used first out, up to a byte budget, and
 * concurrent requests for a piece being read share that read.
 */
import type { TorrentStorage } from './index.js';

export class PieceReadCache {
  /** Insertion order is recency order: a hit moves the piece to the end. */
  private readonly pieces = new Map<number, Promise<Buffer>>();
  private readonly sizes = new Map<number, number>();
  private bytes = 0;

  constructor(
    private readonly storage: TorrentStorage,
    private readonly pieceSize: (piece: number) => number,
    private readonly maxBytes: number,
  ) {}

  async readBlock(piece: number, begin: number, length: number): Promise<Buffer> {
    const size = this.pieceSize(piece);
    // A piece larger than the budget is never cached: read just the block.
    if (size > this.maxBytes) return this.storage.readBlock(piece, begin, length);
    let whole = this.pieces.get(piece);
    if (whole) {
      this.pieces.delete(piece);
      this.pieces.set(piece, whole);
    } else {
      whole = this.storage.readBlock(piece, 0, size);
      this.pieces.set(piece, whole);
      this.sizes.set(piece, size);
      this.bytes += size;
      whole.catch(() => this.evict(piece));
      this.trim();
    }
    const data = await whole;
    if (begin + length > data.length) throw new RangeError(`block ${begin}+${length} is outside piece ${piece}`);
    return data.subarray(begin, begin + length);
  }

  private trim(): void {
    for (const piece of this.pieces.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.evict(piece);
    }
  }

  private evict(piece: number): void {
    if (!this.pieces.delete(piece)) return;
    this.bytes -= this.sizes.get(piece) ?? 0;
    this.sizes.delete(piece);
  }

  clear(): void {
    this.pieces.clear();
    this.sizes.clear();
    this.bytes = 0;
  }
}
