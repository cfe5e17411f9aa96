/** HTTP(S) tracker client (BEP 3 announce) on the shared HTTP client. */
import { type HttpGet, HttpConnectionPool, sendFollowingRedirects } from '../http/index.js';
import { buildAnnounceUrl, parseAnnounceResponse } from './http-codec.js';
import { TrackerFailure, TrackerProtocolError, TrackerRequestError } from './errors.js';
import type { AnnounceParams, AnnounceResult, Tracker } from './types.js';

export interface HttpTrackerOptions {
  /** Whole-request deadline in milliseconds (default 30 s). */
  timeoutMs?: number;
  /** Redirects followed before giving up (default 3). */
  maxRedirections?: number;
  /** Largest answer we read; announce answers are small, so more is a broken or hostile tracker (default 1 MiB). */
  maxResponseBytes?: number;
  userAgent?: string;
}

/**
 * One connection pool for all HTTP trackers; idle sockets are unref'd, so it never holds the process open.
 * Announces to one tracker are minutes apart: an idle connection only serves a burst of torrents announcing
 * together, and is dropped before servers' usual 5 s keep-alive, so they rarely close it under a request.
 */
const sharedPool = new HttpConnectionPool({ idleTimeoutMs: 4_000 });

interface Answer {
  status: number;
  body: Uint8Array;
}

export class HttpTracker implements Tracker {
  private readonly timeoutMs: number;
  private readonly maxRedirections: number;
  private readonly maxResponseBytes: number;
  private readonly userAgent: string | undefined;
  /** BEP 3 `tracker id` from this tracker's last answer. */
  private trackerId: Uint8Array | undefined;

  constructor(
    readonly url: string,
    options: HttpTrackerOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRedirections = options.maxRedirections ?? 3;
    this.maxResponseBytes = options.maxResponseBytes ?? 1024 * 1024;
    this.userAgent = options.userAgent;
  }

  async announce(params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResult> {
    signal?.throwIfAborted();
    const target = buildAnnounceUrl(this.url, params, this.trackerId ? { trackerId: this.trackerId } : {});
    const { status, body } = await this.fetch(target, signal);
    if (status !== 200) {
      // Some trackers send their `failure reason` with an error status; prefer their words when present.
      try {
        parseAnnounceResponse(body);
      } catch (err) {
        if (err instanceof TrackerFailure) throw err;
      }
      throw new TrackerRequestError(`${this.url}: HTTP status ${status}`);
    }
    const { trackerId, ...result } = parseAnnounceResponse(body);
    if (trackerId !== undefined) this.trackerId = trackerId;
    return result;
  }

  /** GETs `target`, following redirects, within the deadline. Rejects with `signal.reason` when aborted. */
  private async fetch(target: string, signal: AbortSignal | undefined): Promise<Answer> {
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const options = {
      pool: sharedPool,
      userAgent: this.userAgent,
      signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
      maxRedirects: this.maxRedirections,
    };
    let get: HttpGet | undefined;
    try {
      get = await sendFollowingRedirects(target, options);
      return { status: get.status, body: await this.readAnswer(get) };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof TrackerProtocolError) throw err;
      if (deadline.aborted) {
        throw new TrackerRequestError(`${this.url}: no answer within ${this.timeoutMs} ms`, { cause: err });
      }
      throw new TrackerRequestError(`${this.url}: ${(err as Error).message}`, { cause: err });
    } finally {
      get?.close();
    }
  }

  private async readAnswer(get: HttpGet): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    let total = 0;
    await get.readBody((chunk) => {
      total += chunk.length;
      chunks.push(Buffer.from(chunk));
      return total <= this.maxResponseBytes;
    });
    if (total > this.maxResponseBytes) {
      throw new TrackerProtocolError(`${this.url}: answer is larger than ${this.maxResponseBytes} bytes`);
    }
    return Buffer.concat(chunks);
  }
}
