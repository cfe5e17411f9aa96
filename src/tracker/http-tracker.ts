/** HTTP(S) tracker client (BEP 3 announce) over undici. */
import { Agent, interceptors, request } from 'undici';
import type { Dispatcher } from 'undici';
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

/** One connection pool for all HTTP trackers; undici unrefs idle sockets, so it never holds the process open. */
const sharedAgent = new Agent();

export class HttpTracker implements Tracker {
  private readonly timeoutMs: number;
  private readonly dispatcher: Dispatcher;
  private readonly maxResponseBytes: number;
  private readonly userAgent: string;
  /** BEP 3 `tracker id` from this tracker's last answer. */
  private trackerId: Uint8Array | undefined;

  constructor(
    readonly url: string,
    options: HttpTrackerOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.dispatcher = sharedAgent.compose(interceptors.redirect({ maxRedirections: options.maxRedirections ?? 3 }));
    this.maxResponseBytes = options.maxResponseBytes ?? 1024 * 1024;
    this.userAgent = options.userAgent ?? 'torrent.ts';
  }

  async announce(params: AnnounceParams, signal?: AbortSignal): Promise<AnnounceResult> {
    signal?.throwIfAborted();
    const target = buildAnnounceUrl(this.url, params, this.trackerId ? { trackerId: this.trackerId } : {});
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
    let status: number;
    let body: Uint8Array;
    try {
      const res = await request(target, {
        method: 'GET',
        signal: combined,
        headers: { 'user-agent': this.userAgent, 'accept-encoding': 'identity' },
        dispatcher: this.dispatcher,
      });
      status = res.statusCode;
      body = await this.readBody(res.body);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof TrackerProtocolError) throw err;
      if (deadline.aborted) {
        throw new TrackerRequestError(`${this.url}: no answer within ${this.timeoutMs} ms`, { cause: err });
      }
      throw new TrackerRequestError(`${this.url}: ${(err as Error).message}`, { cause: err });
    }

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

  private async readBody(stream: AsyncIterable<Buffer> & { destroy(): void }): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream) {
      total += chunk.length;
      if (total > this.maxResponseBytes) {
        stream.destroy();
        throw new TrackerProtocolError(`${this.url}: answer is larger than ${this.maxResponseBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }
}
