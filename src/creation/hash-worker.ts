/**
 * Hash worker: hashes runs of consecutive pieces, reading the files itself with positioned reads so the
 * main thread never touches the data. Reads are synchronous: this thread has nothing else to do, and a
 * read done here costs less than one handed to libuv's thread pool, whose threads would compete with the
 * hashing threads for the same cores. One worker waiting for the disk leaves its core to the others. Memory
 * is one chunk buffer, whatever the piece or file sizes.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { HashJob, HashWorkerData, HashWorkerReply } from './hash-job.js';

const HASH_LENGTH = 20;

const { sources, pieceLength, totalLength, chunkSize } = workerData as HashWorkerData;
const buffer = Buffer.allocUnsafe(chunkSize);
const zeros = Buffer.alloc(chunkSize);

/** Index of the source holding byte `offset` (sources are contiguous and non-empty). */
function sourceAt(offset: number): number {
  let lo = 0;
  let hi = sources.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (sources[mid].offset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
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
        this.pieceEnd = Math.min(this.pieceEnd + pieceLength, totalLength);
      }
    }
  }
}

/** One read: `length` bytes (at most a chunk) of source `source` from `sourceOffset`. */
interface Segment {
  source: number;
  sourceOffset: number;
  length: number;
}

/** The reads covering torrent bytes [start, end), never crossing a source boundary. */
function* segments(start: number, end: number): Generator<Segment> {
  let source = sourceAt(start);
  for (let position = start; position < end; ) {
    const { offset, length: sourceLength } = sources[source];
    const sourceOffset = position - offset;
    const length = Math.min(sourceLength - sourceOffset, end - position, chunkSize);
    yield { source, sourceOffset, length };
    position += length;
    if (position === offset + sourceLength) source++;
  }
}

/** Open files of the current job. Jobs move forward through the sources, so one file is open at a time. */
class FileHandles {
  private current: { source: number; fd: number } | undefined;

  get(source: number): number {
    if (this.current?.source !== source) {
      this.closeAll();
      this.current = { source, fd: openSync(sources[source].path as string, 'r') };
    }
    return this.current.fd;
  }

  closeAll(): void {
    if (this.current === undefined) return;
    closeSync(this.current.fd);
    this.current = undefined;
  }
}

function read(files: FileHandles, segment: Segment): Buffer {
  const source = sources[segment.source];
  if (source.path === null) return zeros.subarray(0, segment.length);
  const fd = files.get(segment.source);
  let got = 0;
  while (got < segment.length) {
    const bytesRead = readSync(fd, buffer, got, segment.length - got, segment.sourceOffset + got);
    if (bytesRead === 0) throw new Error(`${source.path} shrank while it was being hashed`);
    got += bytesRead;
  }
  return buffer.subarray(0, segment.length);
}

function hashJob({ first, count }: HashJob): Uint8Array {
  const start = first * pieceLength;
  const end = Math.min(start + count * pieceLength, totalLength);
  const digests = new PieceDigests(first, count, start);
  const files = new FileHandles();
  try {
    for (const segment of segments(start, end)) digests.update(read(files, segment));
  } finally {
    files.closeAll();
  }
  return digests.hashes;
}

const port = parentPort;
if (port === null) throw new Error('hash-worker.js must run as a worker thread');
port.on('message', (job: HashJob) => {
  let reply: HashWorkerReply;
  try {
    const hashes = hashJob(job);
    reply = { type: 'hashed', first: job.first, count: job.count, hashes };
  } catch (err) {
    port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) } satisfies HashWorkerReply);
    return;
  }
  port.postMessage(reply, [reply.hashes.buffer as ArrayBuffer]);
});
