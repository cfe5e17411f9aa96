import { availableParallelism } from 'node:os';
import { setImmediate } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { MAX_SHA1_LANES } from '../hashing/index.js';
import { CreateTorrentError } from './errors.js';
import type { HashJob, HashSource, HashWorkerData, HashWorkerReply } from './hash-job.js';
import { JobHasher } from './job-hasher.js';

const HASH_LENGTH = 20;
/** Roughly how many bytes one job covers: big enough to amortise messaging, small enough to balance. */
const JOB_BYTES = 16 * 1024 * 1024;
const CHUNK_SIZE = 1024 * 1024;
/** By default, beyond this the disk, not SHA-1, is the limit. */
const MAX_WORKERS = 8;
/** Below this the calling thread alone is done before a worker thread would have booted (tens of ms). */
const WORKERS_FROM_BYTES = 32 * 1024 * 1024;

export interface HashOptions {
  /** Threads hashing, the calling one included; by default one per core (see WORKERS_FROM_BYTES). */
  threads?: number;
  onProgress?: (hashedBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
  /** Hash whole pieces four at a time with the native multi-lane SHA-1 where it is built (default true). */
  lanes?: boolean;
}

/**
 * Computes the SHA-1 of every piece (BEP 3 `pieces`) on every core: the calling thread hashes too, one
 * read chunk at a time between turns of its event loop, beside one worker thread per other core. Jobs are
 * runs of consecutive pieces handed out on demand, so fast hashers take more, and the work starts at once
 * instead of waiting for workers to boot. Each hasher reads its own ranges of the files, so memory stays at
 * one read chunk per hasher.
 */
export async function hashPieces(
  sources: HashSource[],
  pieceLength: number,
  totalLength: number,
  options: HashOptions = {},
): Promise<Uint8Array> {
  return new PieceHasher(sources, pieceLength, totalLength, options).run();
}

/** The calling thread's place among the busy hashers. */
const CALLING_THREAD = 'calling thread';
type Hasher = Worker | typeof CALLING_THREAD;
/**
 * Jobs posted to a worker ahead of its replies. The calling thread reads replies only between its own
 * chunks, so a worker given a single job would sit idle until then.
 */
const JOBS_QUEUED_PER_WORKER = 2;

class PieceHasher {
  private readonly pieceCount: number;
  private readonly piecesPerJob: number;
  private readonly workerCount: number;
  private readonly hashes: Uint8Array;
  private readonly workers: Worker[] = [];
  /** How many jobs each busy hasher holds. */
  private readonly busy = new Map<Hasher, number>();
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
    const threads = options.threads ?? Math.min(availableParallelism(), MAX_WORKERS + 1);
    // Several jobs per hasher even for small torrents, so no core sits idle at the end; enough pieces per
    // job to fill the multi-lane SHA-1's lanes, even of the largest pieces.
    this.piecesPerJob = Math.max(
      1,
      Math.min(Math.max(MAX_SHA1_LANES, Math.floor(JOB_BYTES / pieceLength)), Math.ceil(this.pieceCount / (threads * 4))),
    );
    const jobs = Math.ceil(this.pieceCount / this.piecesPerJob);
    const wanted = options.threads === undefined && totalLength < WORKERS_FROM_BYTES ? 0 : threads - 1;
    this.workerCount = Math.max(0, Math.min(wanted, jobs - 1));
  }

  run(): Promise<Uint8Array> {
    const { signal } = this.options;
    signal?.throwIfAborted();
    const data: HashWorkerData = {
      sources: this.sources,
      pieceLength: this.pieceLength,
      totalLength: this.totalLength,
      chunkSize: Math.min(CHUNK_SIZE, this.totalLength),
      lanes: this.options.lanes ?? true,
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
    void this.hashOnCallingThread(new JobHasher(data));
    return done.finally(() => signal?.removeEventListener('abort', onAbort));
  }

  /** Takes jobs like a worker, yielding to the event loop after each chunk so timers and I/O still run. */
  private async hashOnCallingThread(hasher: JobHasher): Promise<void> {
    this.busy.set(CALLING_THREAD, 1);
    try {
      for (let job = this.nextJob(); job !== undefined; job = this.nextJob()) {
        const steps = hasher.steps(job);
        let step = steps.next();
        while (step.done !== true) {
          await setImmediate();
          if (this.stopping) {
            steps.return(new Uint8Array(0));
            return;
          }
          step = steps.next();
        }
        if (!this.record(job, step.value)) return;
      }
    } catch (err) {
      this.stop(new CreateTorrentError(`cannot hash the input: ${err instanceof Error ? err.message : String(err)}`));
    } finally {
      this.busy.delete(CALLING_THREAD);
      this.finishWhenIdle();
    }
  }

  private onReply(worker: Worker, reply: HashWorkerReply): void {
    // A worker that failed one job may still be reading its other one: it stays busy until that replies.
    const held = (this.busy.get(worker) ?? 1) - 1;
    if (held === 0) this.busy.delete(worker);
    else this.busy.set(worker, held);
    if (reply.type === 'failed') {
      this.stop(new CreateTorrentError(`cannot hash the input: ${reply.message}`));
      return;
    }
    this.record(reply, reply.hashes);
    this.dispatch(worker);
  }

  /** Stores a job's hashes and reports progress; false if the progress callback failed. */
  private record(job: HashJob, hashes: Uint8Array): boolean {
    this.hashes.set(hashes, job.first * HASH_LENGTH);
    this.hashedPieces += job.count;
    const jobEnd = Math.min((job.first + job.count) * this.pieceLength, this.totalLength);
    this.hashedBytes += jobEnd - job.first * this.pieceLength;
    if (this.stopping) return true;
    try {
      this.options.onProgress?.(this.hashedBytes, this.totalLength);
    } catch (err) {
      this.stop(err);
      return false;
    }
    return true;
  }

  private nextJob(): HashJob | undefined {
    if (this.stopping || this.nextPiece >= this.pieceCount) return undefined;
    // Jobs shrink near the end, so every hasher finishes at about the same time.
    const remaining = this.pieceCount - this.nextPiece;
    const job: HashJob = {
      first: this.nextPiece,
      count: Math.max(1, Math.min(this.piecesPerJob, Math.ceil(remaining / ((this.workerCount + 1) * 2)))),
    };
    this.nextPiece += job.count;
    return job;
  }

  /** Tops the worker up to JOBS_QUEUED_PER_WORKER jobs; with none left, maybe settles the result. */
  private dispatch(worker: Worker): void {
    for (let held = this.busy.get(worker) ?? 0; held < JOBS_QUEUED_PER_WORKER; held++) {
      const job = this.nextJob();
      if (job === undefined) {
        this.finishWhenIdle();
        return;
      }
      this.busy.set(worker, held + 1);
      worker.postMessage(job);
    }
  }

  /**
   * Stops handing out jobs; the result is rejected (with the first reason) once running jobs have ended.
   * Each busy hasher calls `finishWhenIdle` as it comes back, so the last one to finish settles the result.
   */
  private stop(reason: unknown): void {
    if (!this.stopping) {
      this.stopping = true;
      this.failure = reason;
    }
    this.finishWhenIdle();
  }

  /**
   * Waits for busy hashers before terminating the workers: a worker killed mid-read would leak its open
   * file descriptor. A job is 16 MiB (or one larger piece) of local reads and hashing, so this delays an
   * abort only briefly.
   */
  private finishWhenIdle(): void {
    if (this.busy.size > 0 || this.settle === undefined) return;
    if (!this.stopping && this.hashedPieces < this.pieceCount) return;
    const { resolve, reject } = this.settle;
    this.settle = undefined;
    // Every worker is idle: none holds a file open, so the caller need not wait for them to exit.
    for (const worker of this.workers) void worker.terminate();
    if (this.stopping) reject(this.failure);
    else resolve(this.hashes);
  }
}
