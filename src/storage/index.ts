/**
 * Torrent data on disk: positioned reads and writes spread over the torrent's files (BEP 3 concatenation),
 * BEP 47 padding files kept off disk, incremental piece hashing, and rechecking existing data.
 *
 * Nothing is ever held in memory beyond the block being written or read: pieces are hashed as their blocks
 * arrive in order, and blocks that arrived out of order are re-read from disk when the gap before them fills.
 */
import { createHash } from 'node:crypto';
import { stat, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Bitfield } from '../bitfield/index.js';
import { diskReadBuffer, Sha1Pool, sharedBuffers, type Sha1Stream } from '../hashing/index.js';
import type { Metainfo } from '../metainfo/types.js';
import { StorageError, isMissingData, toStorageError } from './errors.js';
import { FileHandlePool } from './handles.js';
import { PieceLayout, type FileSpan } from './layout.js';
import { resolveFilePaths } from './paths.js';
import { WriteThread } from './write-thread.js';

export { StorageError, StoragePathError } from './errors.js';
export { PieceLayout, type FileSpan } from './layout.js';
export { PieceReadCache } from './read-cache.js';
export { prestartStorageThreads } from './threads.js';
export { loadResume, restoreState, resumeFilePath, saveResume, type ResumeData } from './resume.js';

export interface TorrentStorageOptions {
  /** Upper bound on simultaneously open file descriptors (least recently used closed first). Default 128. */
  maxOpenFiles?: number;
  /** Threads that hash pieces as they are written. Default: the process-wide pool. */
  hasher?: Sha1Pool;
}

export interface CheckOptions {
  /** Called after each piece is checked; `total` is the number of pieces being checked. */
  onProgress?(checked: number, total: number): void;
  /** Aborting rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Check only these pieces (the others stay unset in the result); default all. */
  pieces?: readonly number[];
}

/** Per in-flight piece: a SHA-1 advanced over the contiguous prefix of blocks written so far. */
interface PieceHashState {
  readonly hash: Sha1Stream;
  /** Bytes of the piece [0, hashedUpTo) have been fed to `hash`. */
  hashedUpTo: number;
  /** Blocks on disk past `hashedUpTo`: sorted, merged, non-overlapping [start, end) ranges. */
  readonly landed: [number, number][];
  /** A write failed: the piece cannot pass until it is discarded and fetched again. */
  poisoned: boolean;
}

const DEFAULT_MAX_OPEN_FILES = 128;
/** Read size when finishing a piece from disk. */
const HASH_READ_CHUNK = 1 << 20;
/** Read size when rechecking: large sequential reads, two buffers so reading overlaps hashing. */
const CHECK_READ_CHUNK = 4 << 20;
const STAT_CONCURRENCY = 32;
/** Files touched by one read or write that are worked on at the same time. */
const SPAN_CONCURRENCY = 4;

export class TorrentStorage {
  readonly layout: PieceLayout;
  /** Absolute download folder. */
  readonly dir: string;
  /** Absolute path per file index ('' for padding files, which never touch disk). */
  private readonly paths: string[];
  private readonly pool: FileHandlePool;
  private readonly hasher: Sha1Pool;
  private readonly inFlight = new Map<number, PieceHashState>();
  /** Per piece, the tail of its queue: writes, finishes and verifies of one piece run one after another. */
  private readonly pieceQueues = new Map<number, Promise<void>>();
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  /** Throws StoragePathError if any file would land outside `dir`. Opens nothing until used. */
  constructor(
    readonly meta: Metainfo,
    dir: string,
    opts: TorrentStorageOptions = {},
  ) {
    this.layout = new PieceLayout(meta);
    this.dir = resolve(dir);
    this.paths = resolveFilePaths(meta, this.dir);
    this.pool = new FileHandlePool(opts.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES, (i) => this.paths[i]);
    this.hasher = opts.hasher ?? Sha1Pool.shared();
  }

  /** Where file `fileIndex` lives on disk ('' for a padding file). */
  filePath(fileIndex: number): string {
    return this.paths[fileIndex];
  }

  /** Descriptors currently open (for diagnostics; never above maxOpenFiles). */
  get openFileCount(): number {
    return this.pool.openCount;
  }

  /**
   * Writes a block, creating files and folders as needed, and advances the piece's hash if the block extends
   * the contiguous prefix. A block lying wholly inside the already-hashed prefix is not written again, so what
   * is on disk always matches what was hashed. The hash runs on another thread: data in a `sharedBuffers`
   * buffer is read there in place (the caller keeps its reference until this settles), other data is copied.
   * It settles once the hashing thread has read the block too, so a caller that bounds its writes in flight
   * (PieceWriter's backlog) also bounds the memory waiting to be hashed when that thread falls behind.
   */
  writeBlock(piece: number, begin: number, data: Uint8Array): Promise<void> {
    return this.run(async () => {
      const spans = this.layout.pieceSpans(piece, begin, data.length);
      return this.serialize(piece, async () => {
        let state = this.inFlight.get(piece);
        if (!state) {
          state = { hash: this.hasher.stream(), hashedUpTo: 0, landed: [], poisoned: false };
          this.inFlight.set(piece, state);
        }
        const end = begin + data.length;
        if (end <= state.hashedUpTo) return;
        const skip = Math.max(0, state.hashedUpTo - begin);
        try {
          await this.writeSpans(spans, data, skip);
          if (begin + skip === state.hashedUpTo) {
            const read = hashSpans(state.hash, this.layout, spans, data, skip);
            state.hashedUpTo = end;
            await this.hashLandedBlocks(piece, state);
            await read;
          } else {
            addRange(state.landed, begin + skip, end);
          }
        } catch (err) {
          state.poisoned = true;
          throw err;
        }
      });
    });
  }

  /** Reads a block (to serve a peer). Missing files or data past a file's end: StorageError ENOENT/ESHORT. */
  async readBlock(piece: number, begin: number, length: number): Promise<Buffer> {
    this.layout.pieceSpans(piece, begin, length); // validates the range before allocating
    const out = Buffer.allocUnsafe(length);
    await this.readBlockInto(piece, begin, out);
    return out;
  }

  /** Reads `out.length` bytes of a piece from `begin` into `out`; errors as readBlock. */
  readBlockInto(piece: number, begin: number, out: Buffer): Promise<void> {
    return this.run(async () => {
      this.layout.pieceSpans(piece, begin, out.length);
      await this.readRange(this.layout.pieceOffset(piece) + begin, out, out.length);
    });
  }

  /**
   * Completes the piece's hash (reading from disk whatever was not hashed while writing) and compares it
   * with the metainfo. Frees the piece's state. False if the data is wrong, missing, or a write failed.
   */
  finishPiece(piece: number): Promise<boolean> {
    return this.run(async () => {
      const size = this.layout.pieceSize(piece);
      return this.serialize(piece, async () => {
        const state = this.inFlight.get(piece);
        this.inFlight.delete(piece);
        if (!state) return this.hashPieceFromDisk(piece);
        if (state.poisoned) {
          state.hash.discard();
          return false;
        }
        if (state.hashedUpTo < size) {
          const from = this.layout.pieceOffset(piece) + state.hashedUpTo;
          if (!(await this.hashFromDisk(state.hash, from, size - state.hashedUpTo))) {
            state.hash.discard();
            return false;
          }
        }
        return this.matches(piece, await state.hash.digest());
      });
    });
  }

  /** Drops a piece's hash state (it failed or was abandoned; its blocks will be fetched again). */
  discardPiece(piece: number): void {
    this.inFlight.get(piece)?.hash.discard();
    this.inFlight.delete(piece);
  }

  /** Hashes a piece from disk; false when it is wrong or not (fully) on disk. */
  verifyPiece(piece: number): Promise<boolean> {
    return this.run(async () => {
      this.layout.pieceSize(piece);
      return this.serialize(piece, () => this.hashPieceFromDisk(piece));
    });
  }

  /**
   * Re-hashes the data on disk and returns the pieces that are good. Pieces touching missing or short files
   * are not read at all; the rest is read in large sequential chunks, yielding to the event loop between them.
   */
  checkExisting(opts: CheckOptions = {}): Promise<Bitfield> {
    return this.run(async () => {
      const { onProgress, signal } = opts;
      const pieces = opts.pieces
        ? [...new Set(opts.pieces)].sort((a, b) => a - b)
        : Array.from({ length: this.layout.pieceCount }, (_, i) => i);
      for (const p of pieces) this.layout.pieceSize(p);
      signal?.throwIfAborted();
      const sizes = await this.statFiles();
      const have = new Bitfield(this.layout.pieceCount);
      const chunk = Math.max(1, Math.min(CHECK_READ_CHUNK, this.layout.totalLength));
      const buffers: [Buffer, Buffer] = [diskReadBuffer(chunk), diskReadBuffer(chunk)];
      let checked = 0;
      const pieceDone = () => onProgress?.(++checked, pieces.length);
      for (let i = 0; i < pieces.length; ) {
        signal?.throwIfAborted();
        if (!this.pieceFitsOnDisk(pieces[i], sizes)) {
          pieceDone();
          i++;
          continue;
        }
        let j = i;
        while (j + 1 < pieces.length && pieces[j + 1] === pieces[j] + 1 && this.pieceFitsOnDisk(pieces[j + 1], sizes)) j++;
        await this.hashRun(pieces[i], pieces[j], buffers, have, pieceDone, signal);
        i = j + 1;
      }
      return have;
    });
  }

  /**
   * Once the download is complete: every non-padding file exists with exactly its length (empty files are
   * created, files left longer or shorter are truncated or extended).
   */
  finalize(): Promise<void> {
    return this.run(async () => {
      for (const [i, file] of this.meta.files.entries()) {
        if (file.padding) continue;
        await this.pool.use(i, true, async (handle) => {
          try {
            if ((await handle.stat()).size !== file.length) await handle.truncate(file.length);
          } catch (err) {
            throw toStorageError(err, 'resizing', this.paths[i]);
          }
        });
      }
    });
  }

  /** Waits for operations under way, then closes every file. Later calls fail with StorageError ECLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.running]);
    for (const state of this.inFlight.values()) state.hash.discard();
    this.inFlight.clear();
    await this.pool.closeAll();
  }

  /** Runs a public operation: refused once closed, tracked so close() can wait for it; bad arguments reject. */
  private run<T>(op: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StorageError('storage is closed', 'ECLOSED'));
    const p = op();
    this.running.add(p);
    const forget = () => this.running.delete(p);
    p.then(forget, forget);
    return p;
  }

  private serialize<T>(piece: number, op: () => Promise<T>): Promise<T> {
    const previous = this.pieceQueues.get(piece) ?? Promise.resolve();
    const result = previous.then(op);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.pieceQueues.set(piece, tail);
    void tail.then(() => {
      if (this.pieceQueues.get(piece) === tail) this.pieceQueues.delete(piece);
    });
    return result;
  }

  /** Feeds blocks already on disk that now continue the hashed prefix (re-read, never kept in memory). */
  private async hashLandedBlocks(piece: number, state: PieceHashState): Promise<void> {
    const base = this.layout.pieceOffset(piece);
    while (state.landed.length > 0 && state.landed[0][0] <= state.hashedUpTo) {
      const [, end] = state.landed.shift()!;
      if (end <= state.hashedUpTo) continue;
      if (!(await this.hashFromDisk(state.hash, base + state.hashedUpTo, end - state.hashedUpTo))) {
        throw new StorageError(`data written for piece ${piece} is no longer on disk`, 'ENOENT');
      }
      state.hashedUpTo = end;
    }
  }

  private async hashPieceFromDisk(piece: number): Promise<boolean> {
    const hash = this.hasher.stream();
    if (!(await this.hashFromDisk(hash, this.layout.pieceOffset(piece), this.layout.pieceSize(piece)))) {
      hash.discard();
      return false;
    }
    return this.matches(piece, await hash.digest());
  }

  /** Feeds torrent bytes [offset, offset+length) from disk to `hash`; false if some of them are not on disk. */
  private async hashFromDisk(hash: Sha1Stream, offset: number, length: number): Promise<boolean> {
    try {
      for (let done = 0; done < length; ) {
        // A buffer per read: the hashing thread may still be reading the previous one.
        const n = Math.min(HASH_READ_CHUNK, length - done);
        const buf = sharedBuffers.take(n);
        try {
          await this.readRange(offset + done, buf, n);
          // Not awaited: the next read overlaps this chunk's hashing (a piece's worth of memory at most).
          void hash.update(buf);
        } finally {
          sharedBuffers.release(buf);
        }
        done += n;
      }
      return true;
    } catch (err) {
      if (isMissingData(err)) return false;
      throw err;
    }
  }

  /** Hashes pieces first..last (all fitting on disk) with sequential chunked reads overlapping the hashing. */
  private async hashRun(
    first: number,
    last: number,
    buffers: [Buffer, Buffer],
    have: Bitfield,
    pieceDone: () => void,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const end = this.layout.pieceOffset(last) + this.layout.pieceSize(last);
    const readChunk = (buf: Buffer, at: number): Promise<unknown> =>
      this.readRange(at, buf, Math.min(buf.length, end - at)).then(
        () => undefined,
        (err: unknown) => err,
      );
    let piece = first;
    let pieceEnd = this.layout.pieceOffset(piece) + this.layout.pieceSize(piece);
    let hash = createHash('sha1');
    let pieceMissing = false;
    let pos = this.layout.pieceOffset(first);
    let current = 0;
    let pending = readChunk(buffers[current], pos);
    while (pos < end) {
      const chunkEnd = Math.min(pos + buffers[current].length, end);
      const failure = await pending;
      if (failure !== undefined && !isMissingData(failure)) throw failure;
      const chunk = buffers[current];
      if (chunkEnd < end) {
        current ^= 1;
        pending = readChunk(buffers[current], chunkEnd);
      }
      for (let at = pos; at < chunkEnd; ) {
        const stop = Math.min(pieceEnd, chunkEnd);
        if (failure === undefined) hash.update(chunk.subarray(at - pos, stop - pos));
        else pieceMissing = true; // the file shrank after we looked at its size
        at = stop;
        if (at === pieceEnd) {
          if (!pieceMissing && this.matches(piece, hash.digest())) have.set(piece);
          pieceDone();
          if (++piece > last) break;
          pieceEnd += this.layout.pieceSize(piece);
          hash = createHash('sha1');
          pieceMissing = false;
        }
      }
      pos = chunkEnd;
      if (signal?.aborted) {
        if (pos < end) await pending;
        signal.throwIfAborted();
      }
      await yieldToEventLoop();
    }
  }

  /** Current size of every non-padding file (undefined: missing or not a regular file). */
  private async statFiles(): Promise<(number | undefined)[]> {
    const sizes: (number | undefined)[] = new Array(this.paths.length).fill(undefined);
    let next = 0;
    const worker = async () => {
      while (next < this.paths.length) {
        const i = next++;
        if (this.meta.files[i].padding) continue;
        try {
          const st = await stat(this.paths[i]);
          if (st.isFile()) sizes[i] = st.size;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOENT' && code !== 'ENOTDIR') throw toStorageError(err, 'checking', this.paths[i]);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(STAT_CONCURRENCY, this.paths.length) }, worker));
    return sizes;
  }

  private pieceFitsOnDisk(piece: number, sizes: readonly (number | undefined)[]): boolean {
    for (const s of this.layout.pieceSpans(piece)) {
      if (this.layout.isPadding(s)) continue;
      const size = sizes[s.fileIndex];
      if (size === undefined || size < s.fileOffset + s.length) return false;
    }
    return true;
  }

  private matches(piece: number, digest: Buffer): boolean {
    return digest.equals(this.meta.pieceHashes.subarray(piece * 20, piece * 20 + 20));
  }

  /** Reads torrent bytes [offset, offset+length) into out[0, length); padding reads as zeros. */
  private async readRange(offset: number, out: Buffer, length: number): Promise<void> {
    await forEachConcurrently(this.layout.spans(offset, length), async (s) => {
      if (this.layout.isPadding(s)) {
        out.fill(0, s.bufferOffset, s.bufferOffset + s.length);
        return;
      }
      await this.pool.use(s.fileIndex, false, (handle) =>
        readFully(handle, out.subarray(s.bufferOffset, s.bufferOffset + s.length), s.fileOffset, this.paths[s.fileIndex]),
      );
    });
  }

  /** Writes data[skip..] to the files its spans cover; padding spans are dropped. */
  private async writeSpans(spans: FileSpan[], data: Uint8Array, skip: number): Promise<void> {
    await forEachConcurrently(spans, async (s) => {
      const from = Math.max(s.bufferOffset, skip);
      const to = s.bufferOffset + s.length;
      if (this.layout.isPadding(s) || from >= to) return;
      await this.pool.use(s.fileIndex, true, (handle) =>
        writeFully(handle, data.subarray(from, to), s.fileOffset + (from - s.bufferOffset), this.paths[s.fileIndex]),
      );
    });
  }
}

/**
 * Runs `fn` over the items, a few at a time: a block spread over many small files is not done one file
 * after another, yet the handle pool never sees a flood of waiters. The first failure is thrown after the
 * others settle (so no operation is left running unobserved); no new item starts after a failure.
 */
async function forEachConcurrently<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  if (items.length === 1) return fn(items[0]);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      try {
        await fn(items[next++]);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(SPAN_CONCURRENCY, items.length) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}

/**
 * Feeds `data[skip..]` to the hash, with padding spans as zeros: exactly what a later read from disk sees.
 * Resolves once the hashing thread has read it.
 */
async function hashSpans(hash: Sha1Stream, layout: PieceLayout, spans: FileSpan[], data: Uint8Array, skip: number): Promise<void> {
  const reads: Promise<void>[] = [];
  for (const s of spans) {
    const from = Math.max(s.bufferOffset, skip);
    const to = s.bufferOffset + s.length;
    if (from >= to) continue;
    if (layout.isPadding(s)) hash.zeros(to - from);
    else reads.push(hash.update(data.subarray(from, to)));
  }
  await Promise.all(reads);
}

/** Inserts [start, end) into sorted non-overlapping ranges, merging with neighbours it touches. */
function addRange(ranges: [number, number][], start: number, end: number): void {
  let i = 0;
  while (i < ranges.length && ranges[i][1] < start) i++;
  let j = i;
  while (j < ranges.length && ranges[j][0] <= end) {
    start = Math.min(start, ranges[j][0]);
    end = Math.max(end, ranges[j][1]);
    j++;
  }
  ranges.splice(i, j - i, [start, end]);
}

async function readFully(handle: FileHandle, out: Buffer, position: number, path: string): Promise<void> {
  for (let done = 0; done < out.length; ) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(out, done, out.length - done, position + done));
    } catch (err) {
      throw toStorageError(err, 'reading', path);
    }
    if (bytesRead === 0) {
      throw new StorageError(
        `${path} ends at byte ${position + done}, before the ${position + out.length} the torrent needs (not downloaded yet or truncated)`,
        'ESHORT',
        path,
      );
    }
    done += bytesRead;
  }
}

async function writeFully(handle: FileHandle, data: Uint8Array, position: number, path: string): Promise<void> {
  try {
    await WriteThread.shared.write(handle.fd, data, position);
  } catch (err) {
    throw toStorageError(err, 'writing', path);
  }
}
