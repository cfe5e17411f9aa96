/**
 * Disk writes on one worker thread of their own, done one after another with synchronous writes.
 *
 * Buffered writes to one file from several of libuv's pool threads at once contend for the file's inode
 * lock in the kernel, where the waiting threads spin (a third of the writing threads' CPU time in `perf`);
 * and writing one at a time through the pool leaves the disk idle while each completion waits its turn in
 * the event loop. A thread that writes whatever is queued, back to back, does neither. Data in shared memory
 * (the pooled buffers downloads use) is written where it lies; other data is copied once.
 */
import { Worker } from 'node:worker_threads';

export interface WriteRequest {
  id: number;
  fd: number;
  data: Uint8Array;
  position: number;
}

export interface WriteReply {
  id: number;
  /** The failure of the write, with its errno code (ENOSPC, EIO...). */
  error?: { message: string; code?: string };
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

export class WriteThread {
  /** The process's write thread, shared by every torrent so that their writes never contend either. */
  static readonly shared = new WriteThread();

  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 0;

  /**
   * Writes all of `data` at `position` of the open file `fd`, which must stay open until this settles.
   * Rejects with an Error carrying the errno `code` of the failure.
   */
  write(fd: number, data: Uint8Array, position: number): Promise<void> {
    const worker = this.worker ?? this.start();
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      // Writes owed keep the process alive; an idle thread does not.
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject });
      if (data.buffer instanceof SharedArrayBuffer) {
        worker.postMessage({ id, fd, data, position } satisfies WriteRequest);
      } else {
        // A view of ordinary memory would be posted with all of the memory around it: copy just the bytes
        // (into memory of their own: Buffer's slice() would be a view), and hand the copy over.
        const copy = new Uint8Array(data);
        worker.postMessage({ id, fd, data: copy, position } satisfies WriteRequest, [copy.buffer]);
      }
    });
  }

  /** Starts the thread now rather than at the first write: it takes tens of milliseconds to boot. */
  prestart(): void {
    this.worker ??= this.start();
  }

  private start(): Worker {
    const worker = new Worker(new URL('./write-worker.js', import.meta.url));
    worker.on('message', (reply: WriteReply) => {
      const waiter = this.waiting.get(reply.id);
      if (waiter === undefined) return;
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if (reply.error === undefined) waiter.resolve();
      else waiter.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
    });
    worker.on('error', (error) => this.fail(worker, error.message));
    worker.on('exit', (code) => this.fail(worker, `exited with code ${code}`));
    // Idle, the thread must not keep the process alive. Only after the listeners: a 'message' listener
    // added to an unref()ed worker refs it again.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** The thread died: the writes it owed fail, and the next write starts a new thread. */
  private fail(worker: Worker, why: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const waiter of waiters) waiter.reject(new Error(`the disk writing thread failed: ${why}`));
  }
}
