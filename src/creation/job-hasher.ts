/**
 * Hashes one job (a run of consecutive pieces), reading the files itself with positioned reads. Reads are
 * synchronous and one chunk at a time: hash workers have nothing else to do, and the main thread runs a
 * job step by step, yielding to its event loop after every chunk. Memory is one chunk buffer, whatever
 * the piece or file sizes.
 *
 * With the native multi-lane SHA-1, whole pieces are hashed up to four at a time: each step reads the next
 * slice of every piece of the group (a quarter of the chunk each) and feeds the slices to their lanes.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { diskReadBuffer, finishLanes, MAX_SHA1_LANES, SHA1_BLOCK, sha1Lanes, type Sha1Lanes } from '../hashing/index.js';
import type { HashJob, HashSource, HashWorkerData } from './hash-job.js';

const HASH_LENGTH = 20;
/** The files a job reads from at once: every lane may be in a file of its own. */
const OPEN_FILES = MAX_SHA1_LANES * 2;

/** One read: `length` bytes (at most a chunk) of source `source` from `sourceOffset`. */
interface Segment {
  source: number;
  sourceOffset: number;
  length: number;
}

/** Feeds bytes in torrent order into per-piece SHA-1s, finishing a digest at each piece boundary. */
class PieceDigests {
  private hash: Hash = createHash('sha1');
  private pieceEnd: number;

  constructor(
    private readonly hashes: Uint8Array,
    /** Index in `hashes` of the piece being fed. */
    private piece: number,
    private position: number,
    private readonly pieceLength: number,
    private readonly totalLength: number,
  ) {
    this.pieceEnd = Math.min(position + pieceLength, totalLength);
  }

  update(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      const take = Math.min(bytes.length - at, this.pieceEnd - this.position);
      this.hash.update(bytes.subarray(at, at + take));
      at += take;
      this.position += take;
      if (this.position === this.pieceEnd) {
        this.hashes.set(this.hash.digest(), this.piece * HASH_LENGTH);
        this.piece++;
        this.hash = createHash('sha1');
        this.pieceEnd = Math.min(this.pieceEnd + this.pieceLength, this.totalLength);
      }
    }
  }
}

/** The job's open files, a few at a time: jobs move forward through the sources, lanes a few pieces apart. */
class FileHandles {
  private readonly open = new Map<number, number>();

  constructor(private readonly sources: HashSource[]) {}

  get(source: number): number {
    let fd = this.open.get(source);
    if (fd === undefined) {
      if (this.open.size >= OPEN_FILES) {
        const [oldest, oldFd] = this.open.entries().next().value as [number, number];
        this.open.delete(oldest);
        closeSync(oldFd);
      }
      fd = openSync(this.sources[source].path as string, 'r');
      this.open.set(source, fd);
    }
    return fd;
  }

  closeAll(): void {
    for (const fd of this.open.values()) closeSync(fd);
    this.open.clear();
  }
}

export class JobHasher {
  private readonly sources: HashSource[];
  private readonly pieceLength: number;
  private readonly totalLength: number;
  private readonly chunkSize: number;
  private readonly buffer: Buffer;
  /** The multi-lane SHA-1 and the bytes each lane reads per step, when pieces can be hashed in lanes. */
  private readonly lanes: { sha1: Sha1Lanes; slice: number } | undefined;

  constructor({ sources, pieceLength, totalLength, chunkSize, lanes }: HashWorkerData) {
    this.sources = sources;
    this.pieceLength = pieceLength;
    this.totalLength = totalLength;
    this.chunkSize = chunkSize;
    this.buffer = diskReadBuffer(chunkSize);
    // The lanes take whole 64-byte blocks: every piece but the last is a power of two of 16 KiB or more.
    const slice = Math.min(pieceLength, Math.floor(chunkSize / MAX_SHA1_LANES));
    if (lanes && sha1Lanes !== undefined && slice % SHA1_BLOCK === 0 && pieceLength % slice === 0) {
      this.lanes = { sha1: sha1Lanes, slice };
    }
  }

  /** Hashes the whole job at once. */
  run(job: HashJob): Uint8Array {
    const steps = this.steps(job);
    for (;;) {
      const step = steps.next();
      if (step.done === true) return step.value;
    }
  }

  /**
   * Hashes the job one chunk per step and returns its piece hashes. Ending the generator early (its
   * `return()`) closes the open files.
   */
  *steps({ first, count }: HashJob): Generator<void, Uint8Array> {
    const hashes = new Uint8Array(count * HASH_LENGTH);
    const files = new FileHandles(this.sources);
    try {
      let piece = first;
      if (this.lanes !== undefined) {
        // Whole pieces in groups of up to four; a short last piece of the torrent is left to node:crypto.
        const wholeEnd = Math.min(first + count, Math.floor(this.totalLength / this.pieceLength));
        while (piece < wholeEnd) {
          const group = Math.min(MAX_SHA1_LANES, wholeEnd - piece);
          yield* this.laneSteps(files, piece, group, hashes.subarray((piece - first) * HASH_LENGTH));
          piece += group;
        }
      }
      if (piece < first + count) {
        const start = piece * this.pieceLength;
        const end = Math.min((first + count) * this.pieceLength, this.totalLength);
        const digests = new PieceDigests(hashes, piece - first, start, this.pieceLength, this.totalLength);
        for (const segment of this.segments(start, end, this.chunkSize)) {
          digests.update(this.read(files, segment, this.buffer, 0));
          yield;
        }
      }
    } finally {
      files.closeAll();
    }
    return hashes;
  }

  /** Hashes whole pieces first..first+group-1 in lanes, one slice of each per step, into `out`. */
  private *laneSteps(files: FileHandles, first: number, group: number, out: Uint8Array): Generator<void> {
    const { sha1, slice } = this.lanes!;
    const state = new Uint8Array(group * HASH_LENGTH);
    const views = Array.from({ length: group }, (_, lane) => this.buffer.subarray(lane * slice, (lane + 1) * slice));
    sha1.init(state);
    for (let offset = 0; offset < this.pieceLength; offset += slice) {
      for (let lane = 0; lane < group; lane++) {
        const start = (first + lane) * this.pieceLength + offset;
        let at = 0;
        for (const segment of this.segments(start, start + slice, slice)) {
          this.read(files, segment, views[lane], at);
          at += segment.length;
        }
      }
      sha1.update(state, views);
      yield;
    }
    out.set(finishLanes(sha1, state, this.pieceLength));
  }

  /** Index of the source holding byte `offset` (sources are contiguous and non-empty). */
  private sourceAt(offset: number): number {
    let lo = 0;
    let hi = this.sources.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.sources[mid].offset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The reads covering torrent bytes [start, end), at most `maxRead` each, never crossing a source boundary. */
  private *segments(start: number, end: number, maxRead: number): Generator<Segment> {
    let source = this.sourceAt(start);
    for (let position = start; position < end; ) {
      const { offset, length: sourceLength } = this.sources[source];
      const sourceOffset = position - offset;
      const length = Math.min(sourceLength - sourceOffset, end - position, maxRead);
      yield { source, sourceOffset, length };
      position += length;
      if (position === offset + sourceLength) source++;
    }
  }

  /** Reads a segment into `target` at `at` (zeros for padding) and returns the bytes read. */
  private read(files: FileHandles, segment: Segment, target: Buffer, at: number): Buffer {
    const bytes = target.subarray(at, at + segment.length);
    const source = this.sources[segment.source];
    if (source.path === null) return bytes.fill(0);
    const fd = files.get(segment.source);
    let got = 0;
    while (got < segment.length) {
      const bytesRead = readSync(fd, bytes, got, segment.length - got, segment.sourceOffset + got);
      if (bytesRead === 0) throw new Error(`${source.path} shrank while it was being hashed`);
      got += bytesRead;
    }
    return bytes;
  }
}
