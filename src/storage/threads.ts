/** The threads storage works with, shared by every torrent of the process. */
import { Sha1Pool } from '../hashing/index.js';
import { WriteThread } from './write-thread.js';

/**
 * Starts the shared hashing and writing threads ahead of their first use: each takes tens of milliseconds to
 * boot, better spent while the caller is still loading code and checking files than once data waits.
 */
export function prestartStorageThreads(): void {
  Sha1Pool.shared().prestart();
  WriteThread.shared.prestart();
}
