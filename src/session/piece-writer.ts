/**
 * The one owner of "a block arrived → it is on disk → its piece is hashed → verified or failed", whether the
 * block came from a peer or a web seed.
 *
 * Invariants:
 * - A block is accepted only if the picker still wants it; the picker learns of it before the write starts,
 *   so it is never requested again.
 * - A piece is hashed only after every write to it has settled.
 * - A piece is reported verified only after its data is on disk and its SHA-1 matched.
 * - Memory is bounded by the blocks waiting to be written (`backlogBytes`; the swarm stops requesting while
 *   it is above the limit) and by the pieces being assembled (`maxAssemblyBytes`).
 *
 * Writes are large: blocks arriving in order are written in runs, and a piece whose blocks come out of order
 * (libtorrent answers requests as its disk reads finish, in any order) is gathered in one buffer and written
 * whole, so it is hashed from memory instead of re-read from disk.
 *
 * Smart ban: when a piece fails its hash, each block's hash and sender is kept (20 bytes a block). When the
 * piece later verifies, the senders whose blocks differ from the good data are the liars, even in a piece
 * that mixed honest and lying peers.
 */
import { createHash } from 'node:crypto';
import { copyInto, sharedBuffers } from '../hashing/index.js';
import type { BlockRequest, PiecePicker } from '../picker/index.js';
import type { TorrentStorage } from '../storage/index.js';

/** Something blocks come from: a peer connection or a web seed. */
export interface BlockSource {
  /** For logs and warnings. */
  readonly label: string;
  /** Another source delivered this block first (endgame): withdraw our request for it. */
  cancelRequest(request: BlockRequest): void;
}

export interface PieceWriterEvents {
  verified(piece: number): void;
  /** The piece failed its hash; `contributors` sent its blocks. */
  failed(piece: number, contributors: BlockSource[]): void;
  /** Sources proven to have sent wrong data for a piece that later verified. */
  liars(sources: BlockSource[]): void;
  /** Writing failed (disk full, permissions): the torrent cannot go on. */
  fatal(error: Error): void;
  /** The write backlog fell back under its limit: sources that paused (see `backlogged`) may go on. */
  backlogCleared(): void;
}

interface PieceInFlight {
  /** Settles when every write started so far has settled. */
  writes: Promise<void>;
  /** Which source sent each block, by block index (an array of the piece's size: a Map grew block by block). */
  senders: (BlockSource | undefined)[];
  /**
   * While everything handed to storage is the piece's prefix: where that prefix ends (0 before the first
   * write). -1 once writes are scattered (blocks arrived out of order with no room to assemble the piece).
   */
  prefixEnd: number;
  /** Contiguous blocks not written yet: one large write costs far less than many 16 KiB ones. */
  run: Run | undefined;
  /**
   * The rest of the piece (from prefixEnd), gathered here when its blocks come out of order, as peers send
   * them, and written in one go when the piece is complete.
   */
  assembly: Buffer | undefined;
}

interface Run {
  begin: number;
  end: number;
  /** Views of shared buffers, one reference each (see joinBlocks)... */
  blocks: Uint8Array[];
  /** ...or a buffer of the run's own that its blocks were copied into, filled up to end - begin. */
  copyBuffer: Buffer | undefined;
}

/** Whether a block at `begin` extends the run: it follows it, is kept the same way, and has room. */
function runTakes(run: Run, begin: number, length: number, shared: boolean): boolean {
  if (run.end !== begin) return false;
  if (shared) return run.copyBuffer === undefined;
  return run.copyBuffer !== undefined && run.end - run.begin + length <= run.copyBuffer.length;
}

/** The run's data, each part holding one reference. */
function runParts(run: Run): Uint8Array[] {
  return run.copyBuffer ? [run.copyBuffer.subarray(0, run.end - run.begin)] : run.blocks;
}

/** Contiguous received data is written once it reaches this size (or the piece is complete). */
const WRITE_RUN_BYTES = 1024 * 1024;
/** Runs waiting in memory over all pieces; past this every run is written (pieces a peer abandoned). */
const MAX_PENDING_RUN_BYTES = 4 * 1024 * 1024;
/**
 * Memory for pieces being assembled. Beyond it, out-of-order blocks are written where they belong at once,
 * and storage re-reads them to hash the piece: slower, but memory stays bounded whatever the piece size.
 */
const DEFAULT_MAX_ASSEMBLY_BYTES = 16 * 1024 * 1024;

export interface PieceWriterOptions {
  /** Memory for assembling pieces whose blocks come out of order. Default 16 MiB. */
  maxAssemblyBytes?: number;
  /** Received bytes waiting for the disk beyond which sources should pause (see `backlogged`). Default 8 MiB. */
  maxBacklogBytes?: number;
}

const DEFAULT_MAX_BACKLOG_BYTES = 8 * 1024 * 1024;

const blockDigest = (data: Uint8Array) => createHash('sha1').update(data).digest();

/**
 * One buffer for a run of blocks, with a reference of its own in `sharedBuffers`: no copy when the blocks
 * already sit side by side in shared memory (a web seed's), otherwise one copy into a shared buffer, which
 * the hashing thread then reads in place.
 */
function joinBlocks(blocks: Uint8Array[], bytes: number): Uint8Array {
  const first = blocks[0];
  let adjacent = first.buffer instanceof SharedArrayBuffer;
  let end = first.byteOffset + first.length;
  for (let i = 1; adjacent && i < blocks.length; i++) {
    const b = blocks[i];
    adjacent = b.buffer === first.buffer && b.byteOffset === end;
    end += b.length;
  }
  if (adjacent) {
    const run = new Uint8Array(first.buffer, first.byteOffset, bytes);
    sharedBuffers.retain(run);
    return run;
  }
  const out = sharedBuffers.take(bytes);
  let at = 0;
  for (const b of blocks) {
    copyInto(out, b, at);
    at += b.length;
  }
  return out;
}

export class PieceWriter {
  private readonly inFlight = new Map<number, PieceInFlight>();
  /** Failed pieces: block index → what the sender gave us. */
  private readonly suspects = new Map<number, Map<number, { source: BlockSource; digest: Buffer }>>();
  private backlog = 0;
  private pendingRunBytes = 0;
  private assemblyBytes = 0;
  private failedWith: Error | undefined;

  private readonly maxAssemblyBytes: number;
  private readonly maxBacklogBytes: number;

  constructor(
    private readonly picker: PiecePicker<BlockSource>,
    private readonly storage: TorrentStorage,
    private readonly events: PieceWriterEvents,
    options: PieceWriterOptions = {},
  ) {
    this.maxAssemblyBytes = options.maxAssemblyBytes ?? DEFAULT_MAX_ASSEMBLY_BYTES;
    this.maxBacklogBytes = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
  }

  /**
   * The disk is behind: sources should stop asking for more until `backlogCleared`. Memory stays bounded
   * when the network is faster than the disk.
   */
  get backlogged(): boolean {
    return this.backlog > this.maxBacklogBytes;
  }

  /** Bytes received and waiting to be written (pieces being assembled are bounded apart, by maxAssemblyBytes). */
  get backlogBytes(): number {
    return this.backlog;
  }

  /**
   * Takes a block from `source`. Returns false when the picker does not want it (already had, or no such
   * block), in which case nothing is written. `data` need only be valid during the call: a block in a
   * `sharedBuffers` buffer is retained where it is, any other is copied.
   */
  acceptBlock(source: BlockSource, piece: number, begin: number, data: Uint8Array): boolean {
    if (this.failedWith) return false;
    const receipt = this.picker.blockReceived(source, piece, begin);
    if (!receipt.accepted) return false;
    for (const dup of receipt.duplicateRequestsToCancel) dup.peer.cancelRequest(dup);

    let entry = this.inFlight.get(piece);
    if (!entry) {
      const senders = new Array<BlockSource | undefined>(this.picker.blockCount(piece)).fill(undefined);
      entry = { writes: Promise.resolve(), senders, prefixEnd: 0, run: undefined, assembly: undefined };
      this.inFlight.set(piece, entry);
    }
    entry.senders[begin / this.picker.blockSize] = source;
    const run = entry.run;
    if (entry.assembly) {
      copyInto(entry.assembly, data, begin - entry.prefixEnd);
    } else if (run ? run.end === begin : entry.prefixEnd === begin || entry.prefixEnd < 0) {
      this.addToRun(piece, entry, begin, data);
    } else if (entry.prefixEnd >= 0 && this.assemblyBytes + this.picker.pieceLength <= this.maxAssemblyBytes) {
      this.startAssembly(piece, entry);
      copyInto(entry.assembly!, data, begin - entry.prefixEnd);
    } else {
      this.flush(piece, entry);
      entry.prefixEnd = -1;
      this.addToRun(piece, entry, begin, data);
    }

    if (receipt.pieceComplete) {
      this.flush(piece, entry);
      this.writeAssembly(piece, entry);
      void this.complete(piece, entry);
    } else if (entry.run && entry.run.end - entry.run.begin >= WRITE_RUN_BYTES) {
      this.flush(piece, entry);
    }
    if (this.pendingRunBytes > MAX_PENDING_RUN_BYTES) for (const [p, e] of this.inFlight) this.flush(p, e);
    return true;
  }

  /**
   * Blocks in shared buffers (a web seed's) are kept where they are until written. A peer's block lies in a
   * reused read buffer, so it is copied at once, into a buffer that the run's next blocks join.
   */
  private addToRun(piece: number, entry: PieceInFlight, begin: number, data: Uint8Array): void {
    this.backlog += data.length;
    this.pendingRunBytes += data.length;
    const shared = sharedBuffers.isLive(data);
    let run = entry.run;
    if (run === undefined || !runTakes(run, begin, data.length, shared)) {
      this.flush(piece, entry);
      const copyBuffer = shared ? undefined : sharedBuffers.take(this.runCapacity(piece, entry, begin, data.length));
      run = entry.run = { begin, end: begin, blocks: [], copyBuffer };
    }
    if (run.copyBuffer) {
      copyInto(run.copyBuffer, data, run.end - run.begin);
    } else {
      // Held until the block is written (a pooled buffer must not be reused before then).
      sharedBuffers.retain(data);
      run.blocks.push(data);
    }
    run.end += data.length;
  }

  /**
   * A run that extends the piece's written prefix grows block by block into a full write. A block anywhere
   * else lands where the piece's writes are scattered (out of order, no assembly memory left): it is written
   * on its own, so its buffer is its own size, not a megabyte.
   */
  private runCapacity(piece: number, entry: PieceInFlight, begin: number, length: number): number {
    return entry.prefixEnd === begin ? Math.min(WRITE_RUN_BYTES, this.picker.pieceSize(piece) - begin) : length;
  }

  /** From now on the piece's blocks are copied into one buffer, starting with the run not yet written. */
  private startAssembly(piece: number, entry: PieceInFlight): void {
    const size = this.picker.pieceSize(piece);
    const assembly = sharedBuffers.take(size - entry.prefixEnd);
    this.assemblyBytes += assembly.length;
    const run = entry.run;
    if (run) {
      entry.run = undefined;
      let at = run.begin - entry.prefixEnd;
      for (const part of runParts(run)) {
        copyInto(assembly, part, at);
        at += part.length;
        sharedBuffers.release(part);
      }
      this.backlog -= run.end - run.begin;
      this.pendingRunBytes -= run.end - run.begin;
    }
    entry.assembly = assembly;
  }

  /** The assembled rest of a complete piece goes to storage in one write. */
  private writeAssembly(piece: number, entry: PieceInFlight): void {
    const assembly = entry.assembly;
    if (!assembly) return;
    entry.assembly = undefined;
    this.backlog += assembly.length;
    this.startWrite(piece, entry, entry.prefixEnd, assembly, () => {
      this.assemblyBytes -= assembly.length;
    });
  }

  /** Starts writing the piece's pending run; a failure is fatal unless the piece's completion reports it. */
  private flush(piece: number, entry: PieceInFlight): void {
    const run = entry.run;
    if (!run) return;
    entry.run = undefined;
    const bytes = run.end - run.begin;
    this.pendingRunBytes -= bytes;
    if (entry.prefixEnd === run.begin) entry.prefixEnd = run.end;
    else entry.prefixEnd = -1;
    // The run's own buffer passes its reference on to the write; shared blocks are joined (with a reference
    // of its own) and let go.
    const data = run.copyBuffer ? run.copyBuffer.subarray(0, bytes) : joinBlocks(run.blocks, bytes);
    for (const block of run.blocks) sharedBuffers.release(block);
    this.startWrite(piece, entry, run.begin, data);
  }

  /** Writes `data` (whose reference this takes over) at `begin` of the piece, after the piece's earlier writes. */
  private startWrite(piece: number, entry: PieceInFlight, begin: number, data: Uint8Array, onSettled?: () => void): void {
    const write = this.storage.writeBlock(piece, begin, data).finally(() => {
      const wasBacklogged = this.backlogged;
      this.backlog -= data.length;
      sharedBuffers.release(data);
      onSettled?.();
      if (wasBacklogged && !this.backlogged) this.events.backlogCleared();
    });
    entry.writes = entry.writes.then(() => write);
    write.catch((err: Error) => this.fail(err));
  }

  private async complete(piece: number, entry: PieceInFlight): Promise<void> {
    let ok: boolean;
    try {
      await entry.writes;
      ok = await this.storage.finishPiece(piece);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.inFlight.delete(piece);
    if (this.failedWith) return;
    if (ok) {
      this.picker.pieceVerified(piece);
      const suspects = this.suspects.get(piece);
      this.suspects.delete(piece);
      // Tell the torrent first (HAVE to peers), then judge the suspects against the good data.
      this.events.verified(piece);
      if (suspects) void this.convictLiars(piece, suspects);
      return;
    }
    this.storage.discardPiece(piece);
    await this.recordSuspects(piece, entry.senders);
    const contributors = this.picker.pieceFailed(piece);
    this.events.failed(piece, contributors);
  }

  private async recordSuspects(piece: number, senders: (BlockSource | undefined)[]): Promise<void> {
    const record = new Map<number, { source: BlockSource; digest: Buffer }>();
    try {
      for (const block of this.picker.blocksOf(piece)) {
        const source = senders[block.begin / this.picker.blockSize];
        if (!source) continue;
        const data = await this.storage.readBlock(piece, block.begin, block.length);
        record.set(block.begin / this.picker.blockSize, { source, digest: blockDigest(data) });
      }
    } catch {
      // Without the bad data there is nothing to compare against; strikes still count.
      return;
    }
    this.suspects.set(piece, record);
  }

  private async convictLiars(piece: number, suspects: Map<number, { source: BlockSource; digest: Buffer }>): Promise<void> {
    const liars = new Set<BlockSource>();
    try {
      for (const block of this.picker.blocksOf(piece)) {
        const suspect = suspects.get(block.begin / this.picker.blockSize);
        if (!suspect || liars.has(suspect.source)) continue;
        const good = await this.storage.readBlock(piece, block.begin, block.length);
        if (!blockDigest(good).equals(suspect.digest)) liars.add(suspect.source);
      }
    } catch {
      return;
    }
    if (liars.size > 0) this.events.liars([...liars]);
  }

  private fail(err: Error): void {
    if (this.failedWith) return;
    this.failedWith = err;
    this.events.fatal(err);
  }

  /** Waits for writes in progress (before closing storage). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()].map((e) => e.writes));
  }
}
