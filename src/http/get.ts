/**
 * One GET on a pooled connection, from sending it to the end of its body, every phase timed and abortable.
 * Failures come out as HttpErrors or the signal's reason.
 */
import type { HttpConnection, HttpExchange, HttpHeaders } from './connection.js';
import { HttpConnectionError, HttpTimeoutError } from './errors.js';
import type { HttpConnectionPool } from './pool.js';

export type HttpPhase = HttpTimeoutError['phase'];

export interface HttpGetOptions {
  pool: HttpConnectionPool;
  /** Headers to send besides host, user-agent and accept-encoding, e.g. range. */
  headers?: Readonly<Record<string, string>>;
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
 * that ends the exchange (a failure, an abort, close() before the end) closes it, so no half-read
 * response is ever reused.
 */
export class HttpGet {
  private readonly target: URL;
  private connection: HttpConnection | undefined;
  private answer: { status: number; headers: HttpHeaders } | undefined;
  private onChunk: ((chunk: Buffer) => boolean) | undefined;
  /** The timer of the current phase. */
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  /** The step being awaited: the response headers, then the end of the body. */
  private pending: Pending | undefined;
  /** Set when the exchange failed: later steps reject with it. */
  private failure: { error: unknown } | undefined;
  /** Failed before any response byte came, on a connection that had served earlier requests. */
  private lostUnanswered = false;
  private readonly onAbort = () => this.fail(this.options.signal.reason);
  /** What the connection reports to. */
  private readonly exchange: HttpExchange = {
    onConnected: () => this.startPhase('headers'),
    onHeaders: (status, headers) => this.onHeaders(status, headers),
    onBody: (chunk) => this.onBody(chunk),
    onEnd: () => this.end(),
    onError: (error, responded) => this.onConnectionError(error, responded),
  };

  /** Sends a GET for `url`; resolves once the response headers are in. */
  static async send(url: string, options: HttpGetOptions): Promise<HttpGet> {
    for (;;) {
      options.signal.throwIfAborted();
      const get = new HttpGet(url, options);
      try {
        await get.start();
        return get;
      } catch (error) {
        // Servers close idle keep-alive connections without warning (some after every answer), and a request
        // may go out on one just then. It was not answered: send it again, on another connection.
        if (!get.lostUnanswered) throw error;
      }
    }
  }

  private constructor(
    /** What was asked for (a redirect's target is another HttpGet). */
    readonly url: string,
    private readonly options: HttpGetOptions,
  ) {
    this.target = new URL(url);
  }

  get status(): number {
    return this.answer?.status ?? 0;
  }

  get headers(): HttpHeaders {
    return this.answer?.headers ?? {};
  }

  /**
   * Passes each body chunk to `onChunk` until the body ends, or until `onChunk` returns false: the rest is
   * then abandoned, closing the connection. A chunk is valid only during the call: copy what is kept.
   * With `landIn`, body bytes may be read straight into it (HttpConnection.landBodyIn()), and come to
   * `onChunk` as views of it: nothing to copy. Rejects with the exchange's failure.
   */
  readBody(onChunk: (chunk: Buffer) => boolean, landIn?: Buffer): Promise<void> {
    return this.step(() => {
      this.onChunk = onChunk;
      if (landIn !== undefined) this.connection?.landBodyIn(landIn);
      this.connection?.releaseBody();
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

  /** Ends the exchange, closing the connection unless the body was read to its end. Idempotent. */
  close(): void {
    if (!this.finish()) return;
    this.connection?.destroy();
    this.pending?.resolve();
  }

  private onHeaders(status: number, headers: HttpHeaders): void {
    this.answer = { status, headers };
    // The body's reader attaches once the caller has seen the status, a turn later.
    this.connection?.holdBody();
    this.startPhase('body');
    this.pending?.resolve();
  }

  private onBody(chunk: Buffer): void {
    if (this.ended || this.onChunk === undefined) return;
    this.timer?.refresh();
    if (!this.onChunk(chunk)) this.close();
  }

  /** The body was read to its end: the connection goes back to the pool. */
  private end(): void {
    if (!this.finish()) return;
    if (this.connection !== undefined) this.options.pool.release(this.connection);
    this.pending?.resolve();
  }

  private onConnectionError(error: Error, responded: boolean): void {
    this.lostUnanswered = !responded && this.connection?.reused === true;
    const message = `connection to ${this.target.host} failed: ${error.message}`;
    this.fail(new HttpConnectionError(message, this.url, { cause: error }));
  }

  /** Takes a connection (untimed while waiting for a free one) and sends the request on it. */
  private async start(): Promise<void> {
    const { pool, signal } = this.options;
    const head = this.requestHead();
    const connection = await pool.acquire(this.target, signal);
    this.connection = connection;
    await this.step(() => {
      if (signal.aborted) return this.fail(signal.reason);
      signal.addEventListener('abort', this.onAbort, { once: true });
      this.startPhase(connection.connecting ? 'connect' : 'headers');
      connection.send(head, this.exchange);
    });
  }

  private requestHead(): string {
    const headers: Record<string, string> = {
      host: this.target.host,
      'user-agent': this.options.userAgent ?? DEFAULT_USER_AGENT,
      // Bodies are passed on as sent: a compressed one would not be what was asked for.
      'accept-encoding': 'identity',
      ...this.options.headers,
    };
    let head = `GET ${this.target.pathname}${this.target.search} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      // A line break in a value would let it write headers (or a request) of its own.
      if (/[\r\n]/.test(value)) throw new TypeError(`invalid value for HTTP header ${name}: ${JSON.stringify(value)}`);
      head += `${name}: ${value}\r\n`;
    }
    return `${head}\r\n`;
  }

  private step(start: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure !== undefined) return reject(this.failure.error);
      this.pending = { resolve, reject };
      start();
    });
  }

  private startPhase(phase: HttpPhase): void {
    clearTimeout(this.timer);
    const timeoutMs = this.options.timeoutsMs?.[phase];
    const expire = () => this.fail(new HttpTimeoutError(phase, this.url));
    this.timer = this.ended || timeoutMs === undefined ? undefined : setTimeout(expire, timeoutMs);
  }

  private fail(error: unknown): void {
    if (!this.finish()) return;
    this.failure = { error };
    this.connection?.destroy();
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
}
