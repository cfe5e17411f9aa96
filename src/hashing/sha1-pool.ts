/**
 * SHA-1 on worker threads, so verifying pieces never competes with the network for the main thread.
 *
 * A stream is one piece's hash: updates are posted to the stream's worker and applied in order, and a
 * digest request posted after them resolves with the hash of everything fed before it. Data travels in
 * shared memory (see SharedBufferPool): the worker reads the very bytes the main thread writes to disk, so
 * hashing costs no copy. Data in ordinary memory is copied once into a shared buffer first.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Sha1Reply, Sha1Request } from './messages.js';
import { copyInto, SharedBufferPool } from './shared-buffers.js';

/** The process's shared buffers: what the network delivers is copied into these and hashed in place. */
export const sharedBuffers = new SharedBufferPool();

/** The pool failed (a worker crashed or the pool was closed): the hashes it owed are lost. */
export class Sha1PoolError extends Error {
  override name = 'Sha1PoolError';
}

export interface Sha1PoolOptions {
  /** Worker threads. Default: one per core beyond the first, at least one, at most 4. */
  threads?: number;
}

/** One worker and the digests it owes. */
class HashThread {
  readonly worker: Worker;
  readonly waiting = new Map<number, { resolve: (digest: Buffer) => void; reject: (err: Error) => void }>();
  /**
   * Pooled buffers posted for hashing, oldest first; each is released, and its poster told, when the worker
   * says it has read it.
   */
  private readonly reading: { data: Uint8Array; read: () => void }[] = [];
  failure: Error | undefined;

  constructor(onFailure: (thread: HashThread) => void) {
    this.worker = new Worker(new URL('./sha1-worker.js', import.meta.url));
    this.worker.on('message', (reply: Sha1Reply) => {
      if (reply.type === 'hashed') {
        const done = this.reading.shift();
        if (done !== undefined) {
          sharedBuffers.release(done.data);
          done.read();
          this.unrefWhenIdle();
        }
        return;
      }
      const waiter = this.waiting.get(reply.id);
      if (waiter === undefined) return;
      this.waiting.delete(reply.id);
      this.unrefWhenIdle();
      waiter.resolve(Buffer.from(reply.digest.buffer, reply.digest.byteOffset, reply.digest.length));
    });
    this.worker.on('error', (err) => this.fail(new Sha1PoolError(`hashing thread failed: ${err.message}`, { cause: err }), onFailure));
    this.worker.on('exit', (code) => this.fail(new Sha1PoolError(`hashing thread exited with code ${code}`), onFailure));
    // An idle pool must not keep the process alive; a digest or a read being waited for must. Only after the
    // listeners: a 'message' listener added to an unref()ed worker refs it again.
    this.worker.unref();
  }

  post(request: Sha1Request): void {
    if (this.failure === undefined) this.worker.postMessage(request);
  }

  /**
   * Posts bytes of a pooled buffer the caller holds a reference to; the reference is released once they are
   * read, and then the result resolves (at once if the thread has failed: its digest reports that).
   */
  postPooled(id: number, data: Uint8Array): Promise<void> {
    if (this.failure !== undefined) {
      sharedBuffers.release(data);
      return Promise.resolve();
    }
    return new Promise((read) => {
      if (this.idle) this.worker.ref();
      this.reading.push({ data, read });
      this.worker.postMessage({ op: 'update', id, data, ack: true } satisfies Sha1Request);
    });
  }

  digest(id: number): Promise<Buffer> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      if (this.idle) this.worker.ref();
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ op: 'digest', id } satisfies Sha1Request);
    });
  }

  /** Nothing is being waited for: no digest, no read. */
  private get idle(): boolean {
    return this.waiting.size === 0 && this.reading.length === 0;
  }

  private unrefWhenIdle(): void {
    if (this.idle) this.worker.unref();
  }

  fail(error: Error, onFailure: (thread: HashThread) => void): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
    onFailure(this);
    // The worker is gone or going: buffers it was reading are free once it has stopped.
    const reading = this.reading.splice(0);
    void this.worker.terminate().then(() => {
      for (const { data, read } of reading) {
        sharedBuffers.release(data);
        read();
      }
    });
  }
}

/** The SHA-1 of one piece, computed on a pool thread. */
export class Sha1Stream {
  private finished = false;

  constructor(
    private readonly thread: HashThread,
    private readonly id: number,
  ) {}

  /**
   * Feeds bytes. Bytes in a buffer of `sharedBuffers` are read in place (the stream holds a reference until
   * it has read them, so the caller may release its own at once); other shared memory is read in place too
   * and must not change until the digest is known; ordinary memory is copied now.
   *
   * Resolves once the hashing thread has read the bytes (at once for other shared memory), so a caller can
   * keep the memory waiting to be hashed bounded. Never rejects: a failed pool is reported by digest().
   */
  update(data: Uint8Array): Promise<void> {
    this.assertOpen();
    if (data.length === 0) return Promise.resolve();
    if (sharedBuffers.isLive(data)) {
      sharedBuffers.retain(data);
      return this.thread.postPooled(this.id, data);
    }
    if (data.buffer instanceof SharedArrayBuffer) {
      this.thread.post({ op: 'update', id: this.id, data, ack: false });
      return Promise.resolve();
    }
    const copy = sharedBuffers.take(data.length);
    copyInto(copy, data, 0);
    return this.thread.postPooled(this.id, copy);
  }

  /** Feeds `length` zero bytes (BEP 47 padding). */
  zeros(length: number): void {
    this.assertOpen();
    if (length > 0) this.thread.post({ op: 'zeros', id: this.id, length });
  }

  /** The hash of everything fed; the stream is finished afterwards. Rejects with Sha1PoolError. */
  digest(): Promise<Buffer> {
    this.assertOpen();
    this.finished = true;
    return this.thread.digest(this.id);
  }

  /** Drops the stream without a result. */
  discard(): void {
    if (this.finished) return;
    this.finished = true;
    this.thread.post({ op: 'discard', id: this.id });
  }

  private assertOpen(): void {
    if (this.finished) throw new Error('SHA-1 stream already finished');
  }
}

export class Sha1Pool {
  private static sharedPool: Sha1Pool | undefined;
  private readonly threads: (HashThread | undefined)[];
  private nextId = 0;
  private closed = false;

  /** The process-wide pool, started on first use; its threads never keep the process alive when idle. */
  static shared(): Sha1Pool {
    Sha1Pool.sharedPool ??= new Sha1Pool();
    return Sha1Pool.sharedPool;
  }

  constructor(options: Sha1PoolOptions = {}) {
    const threads = options.threads ?? Math.min(4, Math.max(1, availableParallelism() - 1));
    if (!Number.isSafeInteger(threads) || threads < 1) throw new RangeError(`invalid thread count ${threads}`);
    this.threads = new Array<HashThread | undefined>(threads).fill(undefined);
  }

  /** A new hash; streams are spread over the threads, and each stays on its own so its updates keep their order. */
  stream(): Sha1Stream {
    if (this.closed) throw new Sha1PoolError('SHA-1 pool is closed');
    const id = this.nextId++;
    return new Sha1Stream(this.thread(id % this.threads.length), id);
  }

  /**
   * Starts every thread now rather than at first use: a thread takes tens of milliseconds to boot, time
   * better spent while the caller is still busy elsewhere (opening files, connecting) than once data waits.
   */
  prestart(): void {
    if (this.closed) return;
    for (let slot = 0; slot < this.threads.length; slot++) this.thread(slot);
  }

  /** The thread of `slot`, started if need be; a failed one is replaced for streams that start after the failure. */
  private thread(slot: number): HashThread {
    let thread = this.threads[slot];
    if (thread === undefined || thread.failure !== undefined) {
      thread = new HashThread((failed) => {
        if (this.threads[slot] === failed) this.threads[slot] = undefined;
      });
      this.threads[slot] = thread;
    }
    return thread;
  }

  /** Stops the threads; digests still owed reject with Sha1PoolError. */
  async close(): Promise<void> {
    this.closed = true;
    const threads = this.threads.filter((t): t is HashThread => t !== undefined);
    this.threads.fill(undefined);
    for (const t of threads) t.fail(new Sha1PoolError('SHA-1 pool is closed'), () => undefined);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }
}
