/**
 * The one owner of "a block arrived → it is on disk → its piece is hashed → verified or failed", whether the
 * block came from a peer or a web seed.
 *
 * Invariants:
 * - A block is accepted only if the picker still wants it; the picker learns of it before the write starts,
 *   so it is never requested again.
 * - A piece is hashed only after every write to it has settled.
 * - A piece is reported verified only after its data is on disk and its SHA-1 matched.
 * - Memory is bounded by the blocks waiting to be written (`backlogBytes`); the swarm stops requesting while
 *   it is above the limit.
 *
 * Smart ban: when a piece fails its hash, each block's hash and sender is kept (20 bytes a block). When the
 * piece later verifies, the senders whose blocks differ from the good data are the liars, even in a piece
 * that mixed honest and lying peers.
 */
import { createHash } from 'node:crypto';
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
}

interface PieceInFlight {
  /** Settles when every write started so far has settled. */
  writes: Promise<void>;
  /** Which source sent each block, by block index. */
  senders: Map<number, BlockSource>;
  /** Contiguous blocks not written yet: one large write costs far less than many 16 KiB ones. */
  run: { begin: number; end: number; blocks: Uint8Array[] } | undefined;
}

/** Contiguous received data is written once it reaches this size (or the piece is complete). */
const WRITE_RUN_BYTES = 512 * 1024;
/** Runs waiting in memory over all pieces; past this every run is written (pieces a peer abandoned). */
const MAX_PENDING_RUN_BYTES = 8 * 1024 * 1024;

const blockDigest = (data: Uint8Array) => createHash('sha1').update(data).digest();

/** One buffer for a run of blocks; no copy when they already sit side by side in memory (a web seed's). */
function joinBlocks(blocks: Uint8Array[], bytes: number): Uint8Array {
  const first = blocks[0];
  let end = first.byteOffset + first.length;
  for (let i = 1; i < blocks.length; i++) {
    const b = blocks[i];
    if (b.buffer !== first.buffer || b.byteOffset !== end) return Buffer.concat(blocks, bytes);
    end += b.length;
  }
  return new Uint8Array(first.buffer, first.byteOffset, bytes);
}

export class PieceWriter {
  private readonly inFlight = new Map<number, PieceInFlight>();
  /** Failed pieces: block index → what the sender gave us. */
  private readonly suspects = new Map<number, Map<number, { source: BlockSource; digest: Buffer }>>();
  private backlog = 0;
  private pendingRunBytes = 0;
  private failedWith: Error | undefined;

  constructor(
    private readonly picker: PiecePicker<BlockSource>,
    private readonly storage: TorrentStorage,
    private readonly events: PieceWriterEvents,
  ) {}

  /** Bytes received but not yet written. */
  get backlogBytes(): number {
    return this.backlog;
  }

  /**
   * Takes a block from `source`. Returns false when the picker does not want it (already had, or no such
   * block), in which case nothing is written.
   */
  acceptBlock(source: BlockSource, piece: number, begin: number, data: Uint8Array): boolean {
    if (this.failedWith) return false;
    const receipt = this.picker.blockReceived(source, piece, begin);
    if (!receipt.accepted) return false;
    for (const dup of receipt.duplicateRequestsToCancel) dup.peer.cancelRequest(dup);

    let entry = this.inFlight.get(piece);
    if (!entry) {
      entry = { writes: Promise.resolve(), senders: new Map(), run: undefined };
      this.inFlight.set(piece, entry);
    }
    entry.senders.set(begin / this.picker.blockSize, source);
    this.backlog += data.length;
    const run = entry.run;
    if (run && run.end === begin) {
      run.blocks.push(data);
      run.end += data.length;
    } else {
      this.flush(piece, entry);
      entry.run = { begin, end: begin + data.length, blocks: [data] };
    }
    this.pendingRunBytes += data.length;
    if (receipt.pieceComplete) {
      this.flush(piece, entry);
      void this.complete(piece, entry);
    } else if (entry.run!.end - entry.run!.begin >= WRITE_RUN_BYTES) {
      this.flush(piece, entry);
    }
    if (this.pendingRunBytes > MAX_PENDING_RUN_BYTES) for (const [p, e] of this.inFlight) this.flush(p, e);
    return true;
  }

  /** Starts writing the piece's pending run; a failure is fatal unless the piece's completion reports it. */
  private flush(piece: number, entry: PieceInFlight): void {
    const run = entry.run;
    if (!run) return;
    entry.run = undefined;
    const bytes = run.end - run.begin;
    this.pendingRunBytes -= bytes;
    const data = joinBlocks(run.blocks, bytes);
    const write = this.storage.writeBlock(piece, run.begin, data).finally(() => {
      this.backlog -= bytes;
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

  private async recordSuspects(piece: number, senders: Map<number, BlockSource>): Promise<void> {
    const record = new Map<number, { source: BlockSource; digest: Buffer }>();
    try {
      for (const block of this.picker.blocksOf(piece)) {
        const source = senders.get(block.begin / this.picker.blockSize);
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
