/**
 * Piece geometry for storage: FileLayout (metainfo) maps byte ranges of the concatenated data onto files
 * (BEP 3); this adds block-in-piece ranges and the pieces a file touches, and first checks that the
 * metainfo's numbers agree with each other, since storage never trusts them blindly.
 */
import { FileLayout, pieceLengthAt, type FileSpan } from '../metainfo/index.js';
import type { Metainfo, TorrentFile } from '../metainfo/types.js';

export type { FileSpan } from '../metainfo/index.js';

export class PieceLayout {
  readonly files: readonly TorrentFile[];
  readonly pieceLength: number;
  readonly pieceCount: number;
  readonly totalLength: number;
  private readonly fileLayout: FileLayout;

  constructor(meta: Metainfo) {
    const { files, pieceLength, pieceCount, totalLength } = meta;
    if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) {
      throw new RangeError(`invalid piece length ${pieceLength}`);
    }
    let offset = 0;
    for (const [i, f] of files.entries()) {
      if (!Number.isSafeInteger(f.length) || f.length < 0) throw new RangeError(`file ${i} has invalid length ${f.length}`);
      if (f.offset !== offset) throw new RangeError(`file ${i} starts at ${f.offset}, expected ${offset}`);
      offset += f.length;
    }
    if (offset !== totalLength) throw new RangeError(`files add up to ${offset} bytes, metainfo says ${totalLength}`);
    if (pieceCount !== Math.ceil(totalLength / pieceLength)) {
      throw new RangeError(`${pieceCount} pieces do not fit ${totalLength} bytes in pieces of ${pieceLength}`);
    }
    if (meta.pieceHashes.length !== pieceCount * 20) {
      throw new RangeError(`${meta.pieceHashes.length} bytes of piece hashes for ${pieceCount} pieces`);
    }
    this.files = files;
    this.pieceLength = pieceLength;
    this.pieceCount = pieceCount;
    this.totalLength = totalLength;
    this.fileLayout = new FileLayout(meta);
  }

  pieceOffset(piece: number): number {
    return piece * this.pieceLength;
  }

  /** Length of a piece; only the last one may be short. Throws RangeError for a bad index. */
  pieceSize(piece: number): number {
    return pieceLengthAt(this, piece);
  }

  /**
   * The pieces of files covering [offset, offset+length), in order. Zero-length files hold no bytes and never
   * appear; padding files do (the caller decides what to do with them).
   */
  spans(offset: number, length: number): FileSpan[] {
    return this.fileLayout.spans(offset, length);
  }

  /** BEP 47 padding: never on disk, reads as zeros. */
  isPadding(span: FileSpan): boolean {
    return this.files[span.fileIndex].padding;
  }

  /** Spans of a whole piece, or of a block inside it. */
  pieceSpans(piece: number, begin = 0, length = this.pieceSize(piece) - begin): FileSpan[] {
    const size = this.pieceSize(piece);
    if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(length) || begin < 0 || length < 0 || begin + length > size) {
      throw new RangeError(`block ${begin}+${length} outside piece ${piece} of ${size} bytes`);
    }
    return this.spans(this.pieceOffset(piece) + begin, length);
  }

  /** First and last piece holding bytes of a file; undefined for an empty file. */
  piecesOfFile(fileIndex: number): { first: number; last: number } | undefined {
    const f = this.files[fileIndex];
    if (f.length === 0) return undefined;
    return {
      first: Math.floor(f.offset / this.pieceLength),
      last: Math.floor((f.offset + f.length - 1) / this.pieceLength),
    };
  }
}
