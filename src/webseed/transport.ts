/**
 * The web seeds' HTTP transport, on node:http and node:https rather than undici, which spends about 1.5 times
 * their CPU on the same bytes: keep-alive connection pools, and one GET from sending it to the end of its
 * body, every phase timed and abortable. Failures come out as WebSeedErrors or the signal's reason.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { WebSeedConnectionError, WebSeedTimeoutError } from './errors.js';

/** The keep-alive connection pools of web seeds, one per scheme. */
export interface WebSeedAgents {
  readonly http: http.Agent;
  readonly https: https.Agent;
}

const DEFAULT_CONNECTIONS_PER_HOST = 4;
/** Idle keep-alive connections are kept this long, so back-to-back piece requests skip the handshake. */
const KEEP_ALIVE_TIMEOUT_MS = 30_000;

/** Keep-alive connection pools suited to web seeds, for sharing between several WebSeeds. */
export function createWebSeedAgents(options: { connectionsPerHost?: number } = {}): WebSeedAgents {
  const pool: http.AgentOptions = {
    keepAlive: true,
    maxSockets: options.connectionsPerHost ?? DEFAULT_CONNECTIONS_PER_HOST,
    // For a pooled idle socket this is how long it stays. Idle sockets are unref'd by the agent, so they
    // never keep the process alive.
    timeout: KEEP_ALIVE_TIMEOUT_MS,
  };
  return { http: new http.Agent(pool), https: new https.Agent(pool) };
}

type Phase = WebSeedTimeoutError['phase'];

export interface HttpGetOptions {
  agents: WebSeedAgents;
  headers: http.OutgoingHttpHeaders;
  /**
   * connect: until the connection (TCP and TLS) is up; headers: from then to the response headers; body:
   * the longest silence between two body chunks. Time spent waiting for a free pooled connection is not
   * counted.
   */
  timeoutsMs: Readonly<Record<Phase, number>>;
  signal: AbortSignal;
  /** The torrent file being fetched, for the errors. */
  fileIndex: number;
}

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
    options.signal.throwIfAborted();
    const get = new HttpGet(url, options);
    await get.step(() => get.request.end());
    return get;
  }

  private constructor(
    /** What was asked for (a redirect's target is another HttpGet). */
    readonly url: string,
    private readonly options: HttpGetOptions,
  ) {
    this.target = new URL(url);
    this.secure = this.target.protocol === 'https:';
    const { agents, headers } = options;
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

  /** Reads and discards up to `limit` body bytes so the connection can be reused; a longer body is abandoned. */
  drain(limit: number): Promise<void> {
    let read = 0;
    return this.readBody((chunk) => (read += chunk.length) <= limit);
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

  private startPhase(phase: Phase): void {
    clearTimeout(this.timer);
    if (this.ended) return;
    const expire = () => this.fail(new WebSeedTimeoutError(phase, this.url, this.options.fileIndex));
    this.timer = setTimeout(expire, this.options.timeoutsMs[phase]);
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

  private connectionError(error: Error): WebSeedConnectionError {
    const message = `connection to ${this.target.host} failed: ${error.message}`;
    return new WebSeedConnectionError(message, this.url, this.options.fileIndex, { cause: error });
  }
}
