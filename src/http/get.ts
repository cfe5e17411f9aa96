/**
 * One GET on node:http / node:https, from sending it to the end of its body, every phase timed and
 * abortable. Failures come out as HttpErrors or the signal's reason.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import type { HttpAgents } from './agents.js';
import { HttpConnectionError, HttpTimeoutError } from './errors.js';

export type HttpPhase = HttpTimeoutError['phase'];

export interface HttpGetOptions {
  agents: HttpAgents;
  /** Headers to send besides user-agent and accept-encoding, e.g. range. */
  headers?: http.OutgoingHttpHeaders;
  /** Default "torrent.ts". */
  userAgent?: string;
  /**
   * connect: until the connection (TCP and TLS) is up; headers: from then to the response headers; body:
   * the longest silence between two body chunks. Time spent waiting for a free pooled connection is not
   * counted. A phase without a time is not timed: only the signal ends it.
   */
  timeoutsMs?: Readonly<Partial<Record<HttpPhase, number>>>;
  signal: AbortSignal;
}

const DEFAULT_USER_AGENT = 'torrent.ts';
/** Bodies of error pages and redirects up to this size are read to keep the connection; longer ones close it. */
const DISCARDED_BODY_LIMIT = 64 * 1024;

interface Pending {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * One GET on a pooled connection. A body read to its end leaves the connection to the pool; anything else
 * that ends the exchange (a failure, an abort, close() before the end) destroys it, so no half-read
 * response is ever reused.
 */
export class HttpGet {
  private readonly target: URL;
  private readonly secure: boolean;
  private readonly request: http.ClientRequest;
  private response: http.IncomingMessage | undefined;
  /** The timer of the current phase. */
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  /** The step being awaited: the response headers, then the end of the body. */
  private pending: Pending | undefined;
  /** Set when the exchange failed: later steps reject with it. */
  private failure: { error: unknown } | undefined;
  private readonly onAbort = () => this.fail(this.options.signal.reason);

  /** Sends a GET for `url`; resolves once the response headers are in. */
  static async send(url: string, options: HttpGetOptions): Promise<HttpGet> {
    for (;;) {
      options.signal.throwIfAborted();
      const get = new HttpGet(url, options);
      try {
        await get.step(() => get.request.end());
        return get;
      } catch (error) {
        // Servers close idle keep-alive connections without warning (some after every answer), and a request
        // may go out on one just then. It was not answered: send it again, on another connection.
        if (!get.lostOnStaleConnection(error)) throw error;
      }
    }
  }

  private constructor(
    /** What was asked for (a redirect's target is another HttpGet). */
    readonly url: string,
    private readonly options: HttpGetOptions,
  ) {
    this.target = new URL(url);
    this.secure = this.target.protocol === 'https:';
    const { agents } = options;
    const headers = {
      'user-agent': options.userAgent ?? DEFAULT_USER_AGENT,
      // Bodies are passed on as sent: a compressed one would not be what was asked for.
      'accept-encoding': 'identity',
      ...options.headers,
    };
    this.request = this.secure
      ? https.request(this.target, { agent: agents.https, headers })
      : http.request(this.target, { agent: agents.http, headers });
    // Stays attached after the exchange ends: destroying a request makes it emit 'error' later.
    this.request.on('error', (error) => this.fail(this.connectionError(error)));
    this.request.on('socket', (socket) => this.timeConnect(socket));
    this.request.on('response', (response) => this.onResponse(response));
    options.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  get status(): number {
    return this.response?.statusCode ?? 0;
  }

  get headers(): http.IncomingHttpHeaders {
    return this.response?.headers ?? {};
  }

  /**
   * Passes each body chunk to `onChunk` until the body ends, or until `onChunk` returns false: the rest is
   * then abandoned, closing the connection. Rejects with the exchange's failure.
   */
  readBody(onChunk: (chunk: Buffer) => boolean): Promise<void> {
    return this.step(() => {
      const response = this.response;
      response?.on('data', (chunk: Buffer) => {
        if (this.ended) return;
        this.timer?.refresh();
        if (!onChunk(chunk)) this.close();
      });
      response?.once('end', () => this.end());
    });
  }

  /**
   * Reads and discards a body not worth reading (an error page, a redirect's) so the connection can be
   * reused; a long one is abandoned. Never rejects: the exchange is over either way.
   */
  async discardBody(): Promise<void> {
    let read = 0;
    await this.readBody((chunk) => (read += chunk.length) <= DISCARDED_BODY_LIMIT).catch(() => undefined);
  }

  /** Ends the exchange, destroying the connection unless the body was read to its end. Idempotent. */
  close(): void {
    if (!this.finish()) return;
    this.destroy();
    this.pending?.resolve();
  }

  private step(start: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure !== undefined) return reject(this.failure.error);
      this.pending = { resolve, reject };
      start();
    });
  }

  /** A new connection is timed until it is up (TLS included); a pooled one is up already. */
  private timeConnect(socket: Socket): void {
    if (!socket.connecting) return this.startPhase('headers');
    this.startPhase('connect');
    socket.once(this.secure ? 'secureConnect' : 'connect', () => this.startPhase('headers'));
  }

  private onResponse(response: http.IncomingMessage): void {
    this.response = response;
    response.on('error', (error) => this.fail(this.connectionError(error)));
    this.startPhase('body');
    this.pending?.resolve();
  }

  private startPhase(phase: HttpPhase): void {
    clearTimeout(this.timer);
    const timeoutMs = this.options.timeoutsMs?.[phase];
    const expire = () => this.fail(new HttpTimeoutError(phase, this.url));
    this.timer = this.ended || timeoutMs === undefined ? undefined : setTimeout(expire, timeoutMs);
  }

  /** The body was read to its end: the connection goes back to the pool. */
  private end(): void {
    if (this.finish()) this.pending?.resolve();
  }

  private fail(error: unknown): void {
    if (!this.finish()) return;
    this.failure = { error };
    this.destroy();
    this.pending?.reject(error);
  }

  /** Stops the timer and the abort listener; true the first time only. */
  private finish(): boolean {
    if (this.ended) return false;
    this.ended = true;
    clearTimeout(this.timer);
    this.options.signal.removeEventListener('abort', this.onAbort);
    return true;
  }

  private destroy(): void {
    this.response?.destroy();
    this.request.destroy();
  }

  /** Whether `error` is a pooled connection closed by the server before it answered. */
  private lostOnStaleConnection(error: unknown): boolean {
    if (!this.request.reusedSocket || !(error instanceof HttpConnectionError)) return false;
    const code = (error.cause as NodeJS.ErrnoException | undefined)?.code;
    return code === 'ECONNRESET' || code === 'EPIPE';
  }

  private connectionError(error: Error): HttpConnectionError {
    const message = `connection to ${this.target.host} failed: ${error.message}`;
    return new HttpConnectionError(message, this.url, { cause: error });
  }
}
