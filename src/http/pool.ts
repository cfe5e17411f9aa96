/** Keep-alive connections by origin, a bounded number per host, idle ones kept a while for the next request. */
import type { ConnectionOptions } from 'node:tls';
import { HttpConnection } from './connection.js';
import { HttpConnectionError } from './errors.js';

export interface HttpConnectionPoolOptions {
  /** Parallel connections per origin; further requests wait for a free one. Default: no limit. */
  connectionsPerHost?: number;
  /** How long an idle connection is kept for the next request. */
  idleTimeoutMs: number;
  /** For https connections, e.g. the `ca` of a private server. */
  tls?: ConnectionOptions;
}

interface Waiter {
  resolve(connection: HttpConnection): void;
  reject(error: unknown): void;
}

/** The connections to one origin (scheme, host and port). */
interface Origin {
  /** Idle connections, the most recently used last. */
  readonly idle: HttpConnection[];
  /** Connections open, idle or not. */
  open: number;
  readonly waiting: Waiter[];
}

export class HttpConnectionPool {
  private readonly origins = new Map<string, Origin>();
  /** Every open connection, busy or idle. */
  private readonly connections = new Set<HttpConnection>();
  private readonly idleTimers = new Map<HttpConnection, NodeJS.Timeout>();
  private readonly maxPerOrigin: number;
  private destroyed = false;

  constructor(private readonly options: HttpConnectionPoolOptions) {
    this.maxPerOrigin = options.connectionsPerHost ?? Infinity;
  }

  /**
   * A connection to `target`'s origin for one exchange: an idle one, a new one, or the next one freed when
   * the origin has as many as allowed. Hand it back with release(). Rejects with `signal.reason` on abort.
   */
  acquire(target: URL, signal: AbortSignal): Promise<HttpConnection> {
    if (this.destroyed) return Promise.reject(new HttpConnectionError('the connection pool is closed', target.href));
    signal.throwIfAborted();
    const origin = this.originOf(target);
    for (let idle = origin.idle.pop(); idle !== undefined; idle = origin.idle.pop()) {
      clearTimeout(this.idleTimers.get(idle));
      this.idleTimers.delete(idle);
      // The server may have closed it since; its 'close' event, which takes it out of the pool, comes later.
      if (idle.reusable) return Promise.resolve(idle);
      idle.destroy();
    }
    if (origin.open < this.maxPerOrigin) return Promise.resolve(this.open(target, origin));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        origin.waiting.splice(origin.waiting.indexOf(waiter), 1);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        resolve: (connection) => {
          signal.removeEventListener('abort', onAbort);
          resolve(connection);
        },
        reject,
      };
      origin.waiting.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Takes back a connection whose exchange is over: kept for reuse if it can be, else closed. */
  release(connection: HttpConnection): void {
    if (!connection.reusable || this.destroyed) {
      connection.destroy();
      return;
    }
    const origin = this.originOf(connection.origin);
    const waiter = origin.waiting.shift();
    if (waiter !== undefined) return waiter.resolve(connection);
    connection.idle();
    origin.idle.push(connection);
    const timer = setTimeout(() => connection.destroy(), this.options.idleTimeoutMs);
    timer.unref();
    this.idleTimers.set(connection, timer);
  }

  /** Closes every connection, busy or idle; requests waiting for one fail. */
  destroy(): void {
    this.destroyed = true;
    for (const [key, origin] of this.origins) {
      for (const waiter of origin.waiting.splice(0)) {
        waiter.reject(new HttpConnectionError('the connection pool is closed', key));
      }
    }
    for (const connection of this.connections) connection.destroy();
  }

  private open(target: URL, origin: Origin): HttpConnection {
    const connection = new HttpConnection(new URL(target.origin), this.options.tls);
    origin.open++;
    this.connections.add(connection);
    connection.onClose = () => {
      origin.open--;
      this.connections.delete(connection);
      clearTimeout(this.idleTimers.get(connection));
      this.idleTimers.delete(connection);
      const index = origin.idle.indexOf(connection);
      if (index >= 0) origin.idle.splice(index, 1);
      // A place is free: the next waiting request gets a new connection.
      const waiter = origin.waiting.shift();
      if (waiter !== undefined) waiter.resolve(this.open(connection.origin, origin));
    };
    return connection;
  }

  private originOf(target: URL): Origin {
    let origin = this.origins.get(target.origin);
    if (origin === undefined) {
      origin = { idle: [], open: 0, waiting: [] };
      this.origins.set(target.origin, origin);
    }
    return origin;
  }
}
