/** Messages between the piece hasher (main thread) and its hash workers. */

/** A stretch of the torrent's data: a file on disk, or a BEP 47 padding file (zeros) when `path` is null. */
export interface HashSource {
  path: string | null;
  /** Offset of the first byte in the torrent's concatenated data. */
  offset: number;
  /** Always > 0: zero-length files hold no bytes and are not sent. */
  length: number;
}

export interface HashWorkerData {
  /** Sorted by offset, contiguous, covering [0, totalLength). */
  sources: HashSource[];
  pieceLength: number;
  totalLength: number;
  /** Bytes per positioned read; reads may span pieces. Each worker holds one such buffer. */
  chunkSize: number;
  /** Hash up to four whole pieces at once with the native multi-lane SHA-1, where it is available. */
  lanes: boolean;
}

/** Hash pieces [first, first + count). */
export interface HashJob {
  first: number;
  count: number;
}

export type HashWorkerReply =
  | { type: 'hashed'; first: number; count: number; hashes: Uint8Array }
  | { type: 'failed'; message: string };
