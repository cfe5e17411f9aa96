/** Messages between a Sha1Pool (main thread) and its worker threads. */

export type Sha1Request =
  /**
   * Feed bytes to stream `id` (created on first use). The bytes live in shared memory: nothing is copied.
   * With `ack`, the worker answers `hashed` once it has read them, so their buffer can be reused.
   */
  | { op: 'update'; id: number; data: Uint8Array; ack: boolean }
  /** Feed `length` zero bytes (BEP 47 padding) without shipping them. */
  | { op: 'zeros'; id: number; length: number }
  /** Finish stream `id` and reply with its digest; the stream is gone afterwards. */
  | { op: 'digest'; id: number }
  /** Forget stream `id` without a reply. */
  | { op: 'discard'; id: number };

export type Sha1Reply =
  /** The oldest acknowledged update not yet answered has been hashed. */
  | { type: 'hashed' }
  | { type: 'digest'; id: number; digest: Uint8Array };
