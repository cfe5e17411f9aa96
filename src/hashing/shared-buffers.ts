/**
 * Reusable buffers in shared memory. Data received from the network is copied once into one of these; the
 * disk write and the hashing thread then read it where it is, and the buffer is reused once both are done,
 * so the bytes of a download never land in freshly mapped memory (page faults and zeroing cost as much as
 * a copy) and memory stays flat however much is downloaded. Shared memory is not counted by the garbage
 * collectors' heuristics, which is one more reason to recycle it explicitly instead of dropping it.
 *
 * Each buffer has a reference count: `take` gives the caller one reference, every further user `retain`s
 * and `release`s its own, and the buffer returns to the idle list when the count reaches zero. A buffer
 * that is never released is simply garbage collected; a release without a retain is a bug that would hand
 * bytes still in use to someone else.
 */

/** Smallest size class: a 16 KiB block rounds up to this. */
const MIN_CLASS_BYTES = 64 * 1024;
/** Larger requests are allocated and dropped, never pooled. */
const MAX_CLASS_BYTES = 64 * 1024 * 1024;
/**
 * Where a buffer for disk reads starts within its memory. Large allocations begin 16 bytes past a page
 * boundary, and the kernel's copy from the page cache (page-aligned) to there costs a third more CPU than
 * to any other offset: loads and stores 4 KiB apart alias.
 */
const START_OFFSET = 1024;

export class SharedBufferPool {
  /** Buffers in use and their reference counts. */
  private readonly live = new Map<SharedArrayBuffer, number>();
  /** Idle buffers by size class. */
  private readonly idle = new Map<number, SharedArrayBuffer[]>();
  private idleBytes = 0;

  constructor(
    /** Idle buffers kept for reuse, in bytes; beyond this released buffers are dropped. */
    private readonly maxIdleBytes = 48 * 1024 * 1024,
  ) {}

  /** A buffer of `length` bytes with one reference, owned by the caller. Its contents are undefined. */
  take(length: number): Buffer {
    const size = sizeClass(length);
    let memory = this.idle.get(size)?.pop();
    if (memory === undefined) memory = new SharedArrayBuffer(START_OFFSET + size);
    else this.idleBytes -= size;
    this.live.set(memory, 1);
    return Buffer.from(memory, START_OFFSET, length);
  }

  /** Adds a reference to the buffer under `view`; nothing for memory this pool did not hand out. */
  retain(view: Uint8Array): void {
    const memory = view.buffer;
    if (!(memory instanceof SharedArrayBuffer)) return;
    const count = this.live.get(memory);
    if (count !== undefined) this.live.set(memory, count + 1);
  }

  /** Drops a reference; the last one returns the buffer to the idle list. */
  release(view: Uint8Array): void {
    const memory = view.buffer;
    if (!(memory instanceof SharedArrayBuffer)) return;
    const count = this.live.get(memory);
    if (count === undefined) return;
    if (count > 1) {
      this.live.set(memory, count - 1);
      return;
    }
    this.live.delete(memory);
    const size = memory.byteLength - START_OFFSET;
    if (size > MAX_CLASS_BYTES || this.idleBytes + size > this.maxIdleBytes) return;
    let list = this.idle.get(size);
    if (list === undefined) {
      list = [];
      this.idle.set(size, list);
    }
    list.push(memory);
    this.idleBytes += size;
  }

  /** Whether `view` lies in a buffer of this pool that is in use. */
  isLive(view: Uint8Array): boolean {
    return view.buffer instanceof SharedArrayBuffer && this.live.has(view.buffer);
  }
}

/**
 * Copies `source` into `target` at `offset`. For shared memory V8's TypedArray.set uses a tear-free copy that
 * goes byte by byte when the source is not word-aligned (a block just after a 13-byte message header always
 * is): four times slower than the plain memcpy behind Buffer.fill, which with a value exactly as long as the
 * range copies it once.
 */
export function copyInto(target: Buffer, source: Uint8Array, offset: number): void {
  if (source.length > 0) target.fill(source, offset, offset + source.length);
}

function sizeClass(length: number): number {
  if (length > MAX_CLASS_BYTES) return length;
  let size = MIN_CLASS_BYTES;
  while (size < length) size *= 2;
  return size;
}

/** An ordinary (unshared) buffer that disk reads fill at full speed (see START_OFFSET). */
export function diskReadBuffer(length: number): Buffer {
  return Buffer.allocUnsafe(START_OFFSET + length).subarray(START_OFFSET);
}
