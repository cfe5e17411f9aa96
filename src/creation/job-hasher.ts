/**
 * Hashes one job (a run of consecutive pieces), reading the files itself with positioned reads. Reads are
 * synchronous and one chunk at a time: hash workers have nothing else to do, and the main thread runs a
 * job step by step, yielding to its event loop after every chunk. Memory is one chunk buffer, whatever
 * the piece or file sizes.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { diskReadBuffer } from '../hashing/shared-buffers.js';
import type { HashJob, HashSource, HashWorkerData } from './hash-job.js';

const HASH_LENGTH = 20;

/** One read: `length` bytes (at most a chunk) of source `source` from `sourceOffset`. */
interface Segment {
  source: number;
  sourceOffset: number;
  length: number;
}

/** Feeds bytes in torrent order into per-piece SHA-1s, finishing a digest at each piece boundary. */
class PieceDigests {
  readonly hashes: Uint8Array;
  private hash: Hash = createHash('sha1');
  private piece = 0;
  private pieceEnd: number;

  constructor(
    first: number,
    count: number,
    private position: number,
    private readonly pieceLength: number,
    private readonly totalLength: number,
  ) {
    this.hashes = new Uint8Array(count * HASH_LENGTH);
    this.pieceEnd = Math.min((first + 1) * pieceLength, totalLength);
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

/** Open file of the current job. Jobs move forward through the sources, so one file is open at a time. */
class FileHandles {
  private current: { source: number; fd: number } | undefined;

  constructor(private readonly sources: HashSource[]) {}

  get(source: number): number {
    if (this.current?.source !== source) {
      this.closeAll();
      this.current = { source, fd: openSync(this.sources[source].path as string, 'r') };
    }
    return this.current.fd;
  }

  closeAll(): void {
    if (this.current === undefined) return;
    closeSync(this.current.fd);
    this.current = undefined;
  }
}

export class JobHasher {
  private readonly sources: HashSource[];
  private readonly pieceLength: number;
  private readonly totalLength: number;
  private readonly chunkSize: number;
  private readonly buffer: Buffer;
  private readonly zeros: Buffer;

  constructor({ sources, pieceLength, totalLength, chunkSize }: HashWorkerData) {
    this.sources = sources;
    this.pieceLength = pieceLength;
    this.totalLength = totalLength;
    this.chunkSize = chunkSize;
    this.buffer = diskReadBuffer(chunkSize);
    this.zeros = Buffer.alloc(chunkSize);
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
   * `return()`) closes the open file.
   */
  *steps({ first, count }: HashJob): Generator<void, Uint8Array> {
    const start = first * this.pieceLength;
    const end = Math.min(start + count * this.pieceLength, this.totalLength);
    const digests = new PieceDigests(first, count, start, this.pieceLength, this.totalLength);
    const files = new FileHandles(this.sources);
    try {
      for (const segment of this.segments(start, end)) {
        digests.update(this.read(files, segment));
        yield;
      }
    } finally {
      files.closeAll();
    }
    return digests.hashes;
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

  /** The reads covering torrent bytes [start, end), never crossing a source boundary. */
  private *segments(start: number, end: number): Generator<Segment> {
    let source = this.sourceAt(start);
    for (let position = start; position < end; ) {
      const { offset, length: sourceLength } = this.sources[source];
      const sourceOffset = position - offset;
      const length = Math.min(sourceLength - sourceOffset, end - position, this.chunkSize);
      yield { source, sourceOffset, length };
      position += length;
      if (position === offset + sourceLength) source++;
    }
  }

  private read(files: FileHandles, segment: Segment): Buffer {
    const source = this.sources[segment.source];
    if (source.path === null) return this.zeros.subarray(0, segment.length);
    const fd = files.get(segment.source);
    let got = 0;
    while (got < segment.length) {
      const bytesRead = readSync(fd, this.buffer, got, segment.length - got, segment.sourceOffset + got);
      if (bytesRead === 0) throw new Error(`${source.path} shrank while it was being hashed`);
      got += bytesRead;
    }
    return this.buffer.subarray(0, segment.length);
  }
}
