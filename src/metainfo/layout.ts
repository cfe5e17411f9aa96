import type { Metainfo } from './types.js';

const HASH_LENGTH = 20;

function checkPieceIndex(meta: Pick<Metainfo, 'pieceCount'>, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= meta.pieceCount) {
    throw new RangeError(`piece index ${index} out of range 0..${meta.pieceCount - 1}`);
  }
}

/** Length of piece `index`: `pieceLength` for all but the last, which holds whatever remains. */
export function pieceLengthAt(meta: Pick<Metainfo, 'pieceCount' | 'pieceLength' | 'totalLength'>, index: number): number {
  checkPieceIndex(meta, index);
  if (index < meta.pieceCount - 1) return meta.pieceLength;
  return meta.totalLength - (meta.pieceCount - 1) * meta.pieceLength;
}

/** The 20-byte SHA-1 expected for piece `index` (a view into `meta.pieceHashes`, not a copy). */
export function pieceHashAt(meta: Pick<Metainfo, 'pieceCount' | 'pieceHashes'>, index: number): Uint8Array {
  checkPieceIndex(meta, index);
  return meta.pieceHashes.subarray(index * HASH_LENGTH, (index + 1) * HASH_LENGTH);
}

/** One file's share of a byte range of the torrent. */
export interface FileSpan {
  /** Index into `meta.files`. Padding files are included; check `meta.files[fileIndex].padding`. */
  fileIndex: number;
  /** Offset of the span within that file. */
  fileOffset: number;
  length: number;
  /** Offset of the span within the requested range (where its bytes go in the caller's buffer). */
  bufferOffset: number;
}

/**
 * Maps ranges of the torrent's concatenated data (BEP 3: files laid end to end in `files` order) onto
 * files. Lookups binary-search the file offsets, so torrents with tens of thousands of files stay cheap.
 */
export class FileLayout {
  /** Indices into meta.files of the files with data; zero-length files never hold a byte. */
  private readonly dataFiles: number[] = [];
  /** Torrent offset of each entry of dataFiles, strictly increasing. */
  private readonly starts: number[] = [];

  constructor(private readonly meta: Pick<Metainfo, 'files' | 'pieceCount' | 'pieceLength' | 'totalLength'>) {
    meta.files.forEach((file, i) => {
      if (file.length === 0) return;
      this.dataFiles.push(i);
      this.starts.push(file.offset);
    });
  }

  /** The file spans covering [torrentOffset, torrentOffset + length), in order. */
  spans(torrentOffset: number, length: number): FileSpan[] {
    const { totalLength } = this.meta;
    if (
      !Number.isSafeInteger(torrentOffset) ||
      !Number.isSafeInteger(length) ||
      torrentOffset < 0 ||
      length < 0 ||
      torrentOffset + length > totalLength
    ) {
      throw new RangeError(`range ${torrentOffset}+${length} is outside the torrent's ${totalLength} bytes`);
    }
    const out: FileSpan[] = [];
    if (length === 0) return out;
    let k = this.dataFileAt(torrentOffset);
    let position = torrentOffset;
    const end = torrentOffset + length;
    while (position < end) {
      const fileIndex = this.dataFiles[k];
      const file = this.meta.files[fileIndex];
      const fileOffset = position - file.offset;
      const take = Math.min(file.length - fileOffset, end - position);
      out.push({ fileIndex, fileOffset, length: take, bufferOffset: position - torrentOffset });
      position += take;
      k++;
    }
    return out;
  }

  /** The file spans of piece `index`. */
  pieceSpans(index: number): FileSpan[] {
    return this.spans(index * this.meta.pieceLength, pieceLengthAt(this.meta, index));
  }

  /** Position in dataFiles of the file holding byte `offset` (the last start at or before it). */
  private dataFileAt(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
