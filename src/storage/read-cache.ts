/**
 * Serving peers reads whole pieces: a peer asks for a piece's blocks one after another, so one large read
 * answers many 16 KiB requests. Pieces are kept, least recently used first out, up to a byte budget, and
 * concurrent requests for a piece being read share that read.
 *
 * Piece buffers come from `sharedBuffers` and are reused rather than left to the garbage collector (a
 * gigabyte served through fresh buffers costs dozens of full collections). So a block handed out holds a
 * reference: the caller releases it once the socket is done with the bytes.
 */
import { sharedBuffers } from '../hashing/index.js';
import type { TorrentStorage } from './index.js';

interface CachedPiece {
  /** Holds the cache's own reference while the piece is cached. */
  buffer: Buffer;
  read: Promise<void>;
}

export class PieceReadCache {
  /** Insertion order is recency order: a hit moves the piece to the end. */
  private readonly pieces = new Map<number, CachedPiece>();
  private bytes = 0;

  constructor(
    private readonly storage: TorrentStorage,
    private readonly pieceSize: (piece: number) => number,
    private readonly maxBytes: number,
  ) {}

  /**
   * A block of a piece we have. The result holds a reference in `sharedBuffers`: release it when done
   * (until then its bytes stay as they are); on rejection there is nothing to release.
   */
  async readBlock(piece: number, begin: number, length: number): Promise<Buffer> {
    const size = this.pieceSize(piece);
    // A piece larger than the budget is never cached: read just the block.
    if (size > this.maxBytes) return this.storage.readBlock(piece, begin, length);
    if (begin < 0 || length < 0 || begin + length > size) throw new RangeError(`block ${begin}+${length} is outside piece ${piece}`);
    let cached = this.pieces.get(piece);
    if (cached) {
      this.pieces.delete(piece);
      this.pieces.set(piece, cached);
    } else {
      const buffer = sharedBuffers.take(size);
      cached = { buffer, read: this.storage.readBlockInto(piece, 0, buffer) };
      this.pieces.set(piece, cached);
      this.bytes += size;
      cached.read.catch(() => this.evict(piece));
      this.trim();
    }
    // Taken now, before waiting: an eviction meanwhile must not hand the buffer to another piece.
    const block = cached.buffer.subarray(begin, begin + length);
    sharedBuffers.retain(block);
    try {
      await cached.read;
    } catch (err) {
      sharedBuffers.release(block);
      throw err;
    }
    return block;
  }

  private trim(): void {
    for (const piece of this.pieces.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.evict(piece);
    }
  }

  private evict(piece: number): void {
    const cached = this.pieces.get(piece);
    if (!cached) return;
    this.pieces.delete(piece);
    this.bytes -= cached.buffer.length;
    sharedBuffers.release(cached.buffer);
  }

  clear(): void {
    for (const piece of [...this.pieces.keys()]) this.evict(piece);
  }
}
