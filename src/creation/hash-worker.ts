/**
 * Hash worker: hashes runs of consecutive pieces, reading the files itself with positioned reads so the
 * main thread never touches the data. Reads are double-buffered: the next chunk is read (on libuv's thread
 * pool) while this thread hashes the current one, so disk waits and copying overlap with SHA-1. Memory is
 * two chunk buffers, whatever the piece or file sizes.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import type { HashJob, HashWorkerData, HashWorkerReply } from './hash-job.js';

const HASH_LENGTH = 20;

const { sources, pieceLength, totalLength, chunkSize } = workerData as HashWorkerData;
const buffers = [Buffer.allocUnsafe(chunkSize), Buffer.allocUnsafe(chunkSize)];
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

/** Open files of the current job. At most one read is in flight, so no two reads race to open a file. */
class FileHandles {
  private readonly open = new Map<number, FileHandle>();

  async get(source: number): Promise<FileHandle> {
    let handle = this.open.get(source);
    if (handle === undefined) {
      // Jobs move forward through the sources: earlier files are done with.
      for (const [k, old] of this.open) {
        this.open.delete(k);
        await old.close();
      }
      handle = await open(sources[source].path as string, 'r');
      this.open.set(source, handle);
    }
    return handle;
  }

  async closeAll(): Promise<void> {
    const handles = [...this.open.values()];
    this.open.clear();
    await Promise.all(handles.map((h) => h.close()));
  }
}

async function read(files: FileHandles, segment: Segment, buffer: Buffer): Promise<Buffer> {
  const source = sources[segment.source];
  if (source.path === null) return zeros.subarray(0, segment.length);
  const handle = await files.get(segment.source);
  let got = 0;
  while (got < segment.length) {
    const { bytesRead } = await handle.read(buffer, got, segment.length - got, segment.sourceOffset + got);
    if (bytesRead === 0) throw new Error(`${source.path} shrank while it was being hashed`);
    got += bytesRead;
  }
  return buffer.subarray(0, segment.length);
}

async function hashJob({ first, count }: HashJob): Promise<Uint8Array> {
  const start = first * pieceLength;
  const end = Math.min(start + count * pieceLength, totalLength);
  const digests = new PieceDigests(first, count, start);
  const files = new FileHandles();
  const plan = segments(start, end);
  let turn = 0;
  const readNext = (): Promise<Buffer> | undefined => {
    const next = plan.next();
    return next.done ? undefined : read(files, next.value, buffers[turn++ % 2]);
  };
  let pending = readNext();
  try {
    while (pending !== undefined) {
      const data = await pending;
      // Start filling the other buffer before hashing this one.
      pending = readNext();
      digests.update(data);
    }
  } finally {
    // Never leave a read running into a buffer, or a file open, after the job ends.
    await pending?.catch(() => undefined);
    await files.closeAll();
  }
  return digests.hashes;
}

const port = parentPort;
if (port === null) throw new Error('hash-worker.js must run as a worker thread');
port.on('message', (job: HashJob) => {
  hashJob(job).then(
    (hashes) => {
      const reply: HashWorkerReply = { type: 'hashed', first: job.first, count: job.count, hashes };
      port.postMessage(reply, [hashes.buffer as ArrayBuffer]);
    },
    (err: unknown) => {
      const reply: HashWorkerReply = { type: 'failed', message: err instanceof Error ? err.message : String(err) };
      port.postMessage(reply);
    },
  );
});
