import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CreateTorrentError } from './errors.js';
import type { HashJob, HashSource, HashWorkerData, HashWorkerReply } from './hash-job.js';

const HASH_LENGTH = 20;
/** Roughly how many bytes one job covers: big enough to amortise messaging, small enough to balance. */
const JOB_BYTES = 16 * 1024 * 1024;
const CHUNK_SIZE = 1024 * 1024;
/** Beyond this the disk, not SHA-1, is the limit. */
const MAX_WORKERS = 8;

export interface HashOptions {
  onProgress?: (hashedBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

/**
 * Computes the SHA-1 of every piece (BEP 3 `pieces`) with a pool of worker threads, one per core. Each
 * worker reads its own ranges of the files, so hashing scales with cores and memory stays at one read
 * chunk per worker. Jobs are runs of consecutive pieces handed out on demand, so fast workers take more.
 */
export async function hashPieces(
  sources: HashSource[],
  pieceLength: number,
  totalLength: number,
  options: HashOptions = {},
): Promise<Uint8Array> {
  return new PieceHasher(sources, pieceLength, totalLength, options).run();
}

class PieceHasher {
  private readonly pieceCount: number;
  private readonly piecesPerJob: number;
  private readonly workerCount: number;
  private readonly hashes: Uint8Array;
  private readonly workers: Worker[] = [];
  private readonly busy = new Set<Worker>();
  private nextPiece = 0;
  private hashedPieces = 0;
  private hashedBytes = 0;
  private failure: unknown;
  private stopping = false;
  private settle: { resolve: (hashes: Uint8Array) => void; reject: (err: unknown) => void } | undefined;

  constructor(
    private readonly sources: HashSource[],
    private readonly pieceLength: number,
    private readonly totalLength: number,
    private readonly options: HashOptions,
  ) {
    this.pieceCount = Math.ceil(totalLength / pieceLength);
    this.hashes = new Uint8Array(this.pieceCount * HASH_LENGTH);
    const cores = Math.min(availableParallelism(), MAX_WORKERS);
    // Several jobs per worker even for small torrents, so no core sits idle at the end.
    this.piecesPerJob = Math.max(
      1,
      Math.min(Math.floor(JOB_BYTES / pieceLength), Math.ceil(this.pieceCount / (cores * 4))),
    );
    this.workerCount = Math.min(cores, Math.ceil(this.pieceCount / this.piecesPerJob));
  }

  run(): Promise<Uint8Array> {
    const { signal } = this.options;
    signal?.throwIfAborted();
    const data: HashWorkerData = {
      sources: this.sources,
      pieceLength: this.pieceLength,
      totalLength: this.totalLength,
      chunkSize: Math.min(CHUNK_SIZE, this.totalLength),
    };
    const done = new Promise<Uint8Array>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    const onAbort = () => this.stop(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    for (let i = 0; i < this.workerCount; i++) {
      const worker = new Worker(new URL('./hash-worker.js', import.meta.url), { workerData: data });
      this.workers.push(worker);
      worker.on('message', (reply: HashWorkerReply) => this.onReply(worker, reply));
      worker.on('error', (err) => {
        this.busy.delete(worker);
        this.stop(new CreateTorrentError(`hash worker failed: ${err.message}`, { cause: err }));
      });
      worker.on('exit', (code) => {
        // Only an exit in the middle of a job is unexpected; we terminate idle workers ourselves.
        if (!this.busy.delete(worker)) return;
        this.stop(new CreateTorrentError(`hash worker exited with code ${code} in the middle of a job`));
      });
      this.dispatch(worker);
    }
    return done.finally(() => signal?.removeEventListener('abort', onAbort));
  }

  private onReply(worker: Worker, reply: HashWorkerReply): void {
    this.busy.delete(worker);
    if (reply.type === 'failed') {
      this.stop(new CreateTorrentError(`cannot hash the input: ${reply.message}`));
      return;
    }
    this.hashes.set(reply.hashes, reply.first * HASH_LENGTH);
    this.hashedPieces += reply.count;
    const jobEnd = Math.min((reply.first + reply.count) * this.pieceLength, this.totalLength);
    this.hashedBytes += jobEnd - reply.first * this.pieceLength;
    if (this.stopping) {
      this.dispatch(worker);
      return;
    }
    try {
      this.options.onProgress?.(this.hashedBytes, this.totalLength);
    } catch (err) {
      this.stop(err);
      return;
    }
    this.dispatch(worker);
  }

  private dispatch(worker: Worker): void {
    if (!this.stopping && this.nextPiece < this.pieceCount) {
      const job: HashJob = {
        first: this.nextPiece,
        count: Math.min(this.piecesPerJob, this.pieceCount - this.nextPiece),
      };
      this.nextPiece += job.count;
      this.busy.add(worker);
      worker.postMessage(job);
      return;
    }
    if (this.stopping || this.hashedPieces === this.pieceCount) this.finishWhenIdle();
  }

  /**
   * Stops handing out jobs; the result is rejected (with the first reason) once running jobs have ended.
   * Called again as each busy worker comes back, so the last one to finish settles the result.
   */
  private stop(reason: unknown): void {
    if (!this.stopping) {
      this.stopping = true;
      this.failure = reason;
    }
    this.finishWhenIdle();
  }

  /**
   * Waits for busy workers before terminating: a worker killed mid-read would leak its open file
   * descriptor. A job is 16 MiB (or one larger piece) of local reads and hashing, so this delays an abort
   * only briefly.
   */
  private finishWhenIdle(): void {
    if (this.busy.size > 0 || this.settle === undefined) return;
    const { resolve, reject } = this.settle;
    this.settle = undefined;
    const { stopping, failure } = this;
    void Promise.all(this.workers.map((w) => w.terminate())).then(() => {
      if (stopping) reject(failure);
      else resolve(this.hashes);
    });
  }
}
