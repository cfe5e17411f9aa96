/**
 * A bounded pool of open file handles, least recently used closed first, so a torrent of thousands of small
 * files never holds more than `maxOpen` descriptors. Handles are opened read-only until something needs to
 * write (seeding works from files we may not own), then reopened read-write.
 */
import { constants, mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StorageError, toStorageError } from './errors.js';

interface OpenFile {
  readonly writable: boolean;
  readonly handle: Promise<FileHandle>;
  /** Operations currently using the handle; it is only closed at zero. */
  users: number;
  /** Replaced by a writable handle or evicted: close once the last user is done. */
  retired: boolean;
}

export class FileHandlePool {
  /** Map order is recency order: a use moves the entry to the end. */
  private readonly current = new Map<number, OpenFile>();
  /** Handles out of `current` that still count against the limit until they are closed. */
  private draining = 0;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly maxOpen: number,
    private readonly pathOf: (fileIndex: number) => string,
  ) {
    if (!Number.isSafeInteger(maxOpen) || maxOpen < 1) throw new RangeError(`maxOpenFiles must be at least 1, got ${maxOpen}`);
  }

  /** Number of descriptors open or being opened/closed (never above maxOpen). */
  get openCount(): number {
    return this.current.size + this.draining;
  }

  /**
   * Runs `fn` with a handle for the file. A writable handle creates the file (and its folders) if missing;
   * a read-only one fails with a StorageError code ENOENT.
   */
  async use<T>(fileIndex: number, writable: boolean, fn: (handle: FileHandle) => Promise<T>): Promise<T> {
    const entry = await this.acquire(fileIndex, writable);
    try {
      return await fn(await entry.handle);
    } finally {
      entry.users--;
      if (entry.users === 0) {
        if (entry.retired) this.closeRetired(entry);
        else if (this.waiters.length > 0) this.wake(); // an idle handle can now be evicted
      }
    }
  }

  /** Closes every handle; later uses fail with ECLOSED. Callers finish their operations first. */
  async closeAll(): Promise<void> {
    this.closed = true;
    const entries = [...this.current.values()];
    this.current.clear();
    this.draining += entries.length;
    await Promise.all(entries.map((e) => this.closeHandle(e)));
    this.wake();
  }

  private async acquire(fileIndex: number, writable: boolean): Promise<OpenFile> {
    for (;;) {
      if (this.closed) throw new StorageError('storage is closed', 'ECLOSED', this.pathOf(fileIndex));
      const existing = this.current.get(fileIndex);
      if (existing && (existing.writable || !writable)) {
        this.current.delete(fileIndex);
        this.current.set(fileIndex, existing);
        existing.users++;
        return existing;
      }
      if (existing) this.retire(fileIndex, existing);
      if (this.openCount < this.maxOpen || (this.evictIdle() && this.openCount < this.maxOpen)) {
        const entry: OpenFile = { writable, handle: this.openFile(fileIndex, writable), users: 1, retired: false };
        this.current.set(fileIndex, entry);
        // A failed open must not stay cached (the next use retries) nor count against the limit.
        entry.handle.catch(() => {
          if (this.current.get(fileIndex) === entry) this.current.delete(fileIndex);
          this.wake();
        });
        return entry;
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private async openFile(fileIndex: number, writable: boolean): Promise<FileHandle> {
    const path = this.pathOf(fileIndex);
    if (!writable) {
      try {
        return await open(path, 'r');
      } catch (err) {
        throw toStorageError(err, 'opening', path);
      }
    }
    // O_CREAT without O_TRUNC: creates lazily, keeps what is there. Folders are made only when missing.
    const flags = constants.O_RDWR | constants.O_CREAT;
    try {
      return await open(path, flags, 0o666);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw toStorageError(err, 'creating', path);
    }
    try {
      await makeFolders(dirname(path));
      return await open(path, flags, 0o666);
    } catch (err) {
      throw toStorageError(err, 'creating', path);
    }
  }

  /** Starts closing the least recently used idle handle; false when every handle is busy. */
  private evictIdle(): boolean {
    for (const [fileIndex, entry] of this.current) {
      if (entry.users === 0) {
        this.retire(fileIndex, entry);
        return true;
      }
    }
    return false;
  }

  private retire(fileIndex: number, entry: OpenFile): void {
    this.current.delete(fileIndex);
    this.draining++;
    entry.retired = true;
    if (entry.users === 0) this.closeRetired(entry);
  }

  private closeRetired(entry: OpenFile): void {
    void this.closeHandle(entry).then(() => this.wake());
  }

  /** Closes a drained entry's handle (if it ever opened) and releases its slot. Never rejects. */
  private async closeHandle(entry: OpenFile): Promise<void> {
    try {
      await (await entry.handle).close();
    } catch {
      // Failed opens have nothing to close; a failing close loses nothing we could still save.
    } finally {
      this.draining--;
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/**
 * mkdir -p that reports the real cause: Node's recursive mkdir turns EROFS (and others) into ENOENT, which
 * would tell the user a file is missing instead of that the disk is read-only.
 */
async function makeFolders(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return; // made meanwhile; a file in the way surfaces as ENOTDIR on open
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw err;
    await makeFolders(parent);
    await mkdir(dir).catch((again: NodeJS.ErrnoException) => {
      if (again.code !== 'EEXIST') throw again;
    });
  }
}
