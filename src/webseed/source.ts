/**
 * A web seed as a piece source for the session: one mirror, its health, and piece-aligned fetches.
 *
 * How the session drives it (BEP 19 mirrors have every piece, like a seeder that never chokes):
 *
 *   const { urls, warnings } = parseWebSeedList(meta.webSeeds);
 *   const source = new WebSeedSource(urls[0], meta);
 *   source.on('warning', (message) => progress.warn(message));
 *   while (source.state !== 'dead') {
 *     const run = pick up to source.piecesPerRequest contiguous pieces p with source.canServe(p);
 *     try { data = await source.fetchPieces(run.first, run.count, signal) }
 *     catch { release the run to the picker; continue }   // source.state/lastError say why
 *     for each piece: write via storage, hash it; if bad → source.reportHashFailure(piece)
 *   }
 *
 * fetchPieces retries transient failures itself (timeouts, resets, short bodies, 5xx, 429/503 honouring
 * Retry-After) with exponential backoff shared by all concurrent calls, and rethrows the last error after
 * `maxAttempts`. A file the mirror lacks (404/410/416/size mismatch) makes the pieces touching it unservable
 * from this mirror (`canServe` turns false) without retry. The mirror is given up on ('dead') when it has no
 * range support, redirects badly, fails `maxConsecutiveFailures` times in a row, lacks every file, or its data
 * fails the hash check `maxHashFailures` times. Dead is final for this source's lifetime.
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Metainfo } from '../metainfo/types.js';
import {
  WebSeedBusyError,
  WebSeedError,
  WebSeedHttpError,
  WebSeedRangeError,
  WebSeedRedirectError,
  WebSeedUnavailableError,
} from './errors.js';
import { WebSeed, type WebSeedOptions } from './webseed.js';

export type WebSeedState = 'active' | 'backoff' | 'dead';

/** Time source, injectable so tests can run backoff without waiting. */
export interface WebSeedClock {
  now(): number;
  /** Resolve after `ms`; reject with `signal.reason` when aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: WebSeedClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, { signal }),
};

export interface WebSeedSourceOptions extends Omit<WebSeedOptions, 'now'> {
  /** Attempts per fetchPieces call before its last error is rethrown. Default 3. */
  maxAttempts?: number;
  /** Failed attempts in a row (across all calls) after which the mirror is dead. Default 8. */
  maxConsecutiveFailures?: number;
  /** Pieces from this mirror failing the hash check before it is dead. Default 2. */
  maxHashFailures?: number;
  /** First backoff delay; doubles per consecutive failure. Default 1 s. */
  backoffBaseMs?: number;
  /** Longest backoff, also the cap on a server's Retry-After. Default 5 min. */
  backoffMaxMs?: number;
  /** Target size of one fetch, used for piecesPerRequest. Default 4 MiB. */
  maxRequestBytes?: number;
  clock?: WebSeedClock;
}

export interface WebSeedSourceEvents {
  /** A human-readable line for the progress output: a failure, a skipped file, or giving up on the mirror. */
  warning: [message: string];
}

const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_MAX_CONSECUTIVE_FAILURES = 8;
const DEFAULT_MAX_HASH_FAILURES = 2;
const DEFAULT_BACKOFF_BASE_MS = 1000;
const DEFAULT_BACKOFF_MAX_MS = 5 * 60_000;
const DEFAULT_MAX_REQUEST_BYTES = 4 << 20;

/** What a failed attempt means for the mirror. */
type FailureKind = 'file' | 'mirror' | 'transient';

function classify(error: WebSeedError): FailureKind {
  if (error instanceof WebSeedBusyError) return 'transient';
  if (error instanceof WebSeedRangeError) return error.kind === 'unsupported' ? 'mirror' : 'file';
  if (error instanceof WebSeedRedirectError) return 'mirror';
  if (error instanceof WebSeedHttpError) {
    // 404/410 and other refusals (401, 403...) concern the file; 408 and 5xx are the server's trouble.
    return error.status >= 500 || error.status === 408 ? 'transient' : 'file';
  }
  return 'transient';
}

export class WebSeedSource extends EventEmitter<WebSeedSourceEvents> {
  /** How many pieces one fetchPieces call should ask for, so a fetch is about `maxRequestBytes`. */
  readonly piecesPerRequest: number;
  private readonly seed: WebSeed;
  private readonly clock: WebSeedClock;
  private readonly maxAttempts: number;
  private readonly maxConsecutiveFailures: number;
  private readonly maxHashFailures: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  /** Files this mirror cannot serve (missing, wrong size). */
  private readonly unusableFiles = new Set<number>();
  private consecutiveFailures = 0;
  private hashFailureCount = 0;
  private backoffUntil = 0;
  private dead = false;
  private latestError: Error | undefined;

  constructor(
    readonly url: string,
    private readonly meta: Metainfo,
    options: WebSeedSourceOptions = {},
  ) {
    super();
    this.clock = options.clock ?? systemClock;
    this.seed = new WebSeed(url, meta, { ...options, now: () => this.clock.now() });
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.maxConsecutiveFailures = options.maxConsecutiveFailures ?? DEFAULT_MAX_CONSECUTIVE_FAILURES;
    this.maxHashFailures = options.maxHashFailures ?? DEFAULT_MAX_HASH_FAILURES;
    this.backoffBaseMs = options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.backoffMaxMs = options.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS;
    const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.piecesPerRequest = Math.max(1, Math.floor(maxRequestBytes / meta.pieceLength));
  }

  /** 'backoff' while waiting after a failure or a Retry-After (until `readyAt`); 'dead' once given up on. */
  get state(): WebSeedState {
    if (this.dead) return 'dead';
    return this.clock.now() < this.backoffUntil ? 'backoff' : 'active';
  }

  /** Clock time from which the mirror will be asked again; fetches started earlier wait until then. */
  get readyAt(): number {
    return this.backoffUntil;
  }

  /** The most recent failure, for display; kept after later successes. */
  get lastError(): Error | undefined {
    return this.latestError;
  }

  /** Body bytes received from this mirror (for "bytes from web seeds" in the progress output). */
  get bytesReceived(): number {
    return this.seed.bytesReceived;
  }

  get hashFailures(): number {
    return this.hashFailureCount;
  }

  /** Files found missing or unusable on this mirror so far; grows only, so callers can cache canServe. */
  get unusableFileCount(): number {
    return this.unusableFiles.size;
  }

  /** False when the mirror is dead or the piece touches a file this mirror does not have. */
  canServe(piece: number): boolean {
    if (this.dead) return false;
    if (this.unusableFiles.size === 0) return true;
    const offset = piece * this.meta.pieceLength;
    const length = Math.min(this.meta.pieceLength, this.meta.totalLength - offset);
    return this.seed.layout.spans(offset, length).every((span) => !this.unusableFiles.has(span.fileIndex));
  }

  /**
   * The data of pieces firstPiece .. firstPiece + count - 1, concatenated (the last piece of the torrent may
   * be short). Retries as described above. Rejects with WebSeedUnavailableError when the mirror is dead or
   * cannot serve one of the pieces, with the last WebSeedError when attempts ran out, or with `signal.reason`.
   * Does not verify hashes: call reportHashFailure for a piece whose hash turns out wrong. The result is a
   * `sharedBuffers` buffer, as from WebSeed.fetchRange.
   */
  async fetchPieces(firstPiece: number, count: number, signal?: AbortSignal): Promise<Buffer> {
    const { pieceCount, pieceLength, totalLength } = this.meta;
    if (!Number.isInteger(firstPiece) || !Number.isInteger(count) || firstPiece < 0 || count < 1) {
      throw new RangeError(`invalid piece run: first ${firstPiece}, count ${count}`);
    }
    if (firstPiece + count > pieceCount) {
      throw new RangeError(`pieces ${firstPiece}..${firstPiece + count - 1} run past the last piece ${pieceCount - 1}`);
    }
    const offset = firstPiece * pieceLength;
    const length = Math.min(totalLength, (firstPiece + count) * pieceLength) - offset;
    for (let attempt = 1; ; attempt++) {
      this.throwIfUnservable(firstPiece, count);
      const wait = this.backoffUntil - this.clock.now();
      if (wait > 0) await this.clock.sleep(wait, signal);
      this.throwIfUnservable(firstPiece, count);
      try {
        const data = await this.seed.fetchRange(offset, length, signal);
        this.consecutiveFailures = 0;
        return data;
      } catch (error) {
        if (signal?.aborted || !(error instanceof WebSeedError)) throw error;
        this.recordFailure(error);
        this.throwIfUnservable(firstPiece, count);
        if (attempt >= this.maxAttempts) throw error;
      }
    }
  }

  /** The caller found piece `piece` from this mirror failing its hash: after `maxHashFailures` the mirror is dead. */
  reportHashFailure(piece: number): void {
    // The other pieces of a run that came in with the fatal one say nothing new.
    if (this.dead) return;
    this.hashFailureCount++;
    const count = `${this.hashFailureCount} of ${this.maxHashFailures} allowed`;
    this.emit('warning', `web seed ${this.url} sent piece ${piece} with a wrong hash (${count})`);
    if (this.hashFailureCount >= this.maxHashFailures) {
      const message = `web seed ${this.url} sent corrupt data ${this.hashFailureCount} times`;
      this.giveUp(new WebSeedUnavailableError(message, this.url));
    }
  }

  /** Close this source's connections (not those of a shared pool). */
  async close(): Promise<void> {
    await this.seed.close();
  }

  private throwIfUnservable(firstPiece: number, count: number): void {
    if (this.dead) {
      throw new WebSeedUnavailableError(`web seed ${this.url} has been given up on`, this.url, undefined, {
        cause: this.latestError,
      });
    }
    for (let piece = firstPiece; piece < firstPiece + count; piece++) {
      if (!this.canServe(piece)) {
        throw new WebSeedUnavailableError(`web seed ${this.url} cannot serve piece ${piece}`, this.url, undefined, {
          cause: this.latestError,
        });
      }
    }
  }

  private recordFailure(error: WebSeedError): void {
    this.latestError = error;
    const kind = classify(error);
    if (kind === 'mirror') {
      this.giveUp(error);
      return;
    }
    if (kind === 'file' && error.fileIndex !== undefined) {
      this.unusableFiles.add(error.fileIndex);
      this.emit('warning', `${error.message}; not using this web seed for that file`);
      const dataFiles = this.meta.files.filter((file) => !file.padding && file.length > 0).length;
      if (this.unusableFiles.size >= dataFiles) this.giveUp(error);
      return;
    }
    this.consecutiveFailures++;
    if (this.consecutiveFailures >= this.maxConsecutiveFailures) {
      this.giveUp(error);
      return;
    }
    const retryAfter = error instanceof WebSeedBusyError ? error.retryAfterMs : undefined;
    const delay = Math.min(this.backoffMaxMs, retryAfter ?? this.backoffBaseMs * 2 ** (this.consecutiveFailures - 1));
    this.backoffUntil = Math.max(this.backoffUntil, this.clock.now() + delay);
    this.emit('warning', `${error.message}; retrying in ${Math.ceil(delay / 1000)} s`);
  }

  private giveUp(reason: Error): void {
    if (this.dead) return;
    this.dead = true;
    this.latestError = reason;
    this.emit('warning', `giving up on web seed ${this.url}: ${reason.message}`);
  }
}
