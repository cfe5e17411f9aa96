/**
 * The web seeds' use of the shared HTTP client: a connection pool suited to fetching pieces, and its failures
 * told as web seed errors.
 */
import { HttpConnectionError, HttpConnectionPool, HttpRedirectError, HttpTimeoutError } from '../http/index.js';
import { WebSeedConnectionError, WebSeedRedirectError, WebSeedTimeoutError } from './errors.js';

const DEFAULT_CONNECTIONS_PER_HOST = 4;
/** Idle keep-alive connections are kept this long, so back-to-back piece requests skip the handshake. */
const KEEP_ALIVE_TIMEOUT_MS = 30_000;

/** A keep-alive connection pool suited to web seeds, for sharing between several WebSeeds. */
export function createWebSeedConnections(options: { connectionsPerHost?: number } = {}): HttpConnectionPool {
  return new HttpConnectionPool({
    connectionsPerHost: options.connectionsPerHost ?? DEFAULT_CONNECTIONS_PER_HOST,
    idleTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
  });
}

/** A failure of the HTTP client as the web seed error it is for file `fileIndex`; anything else (an abort's reason) as is. */
export function asWebSeedError(error: unknown, fileIndex: number): unknown {
  if (error instanceof HttpTimeoutError) return new WebSeedTimeoutError(error.phase, error.url, fileIndex);
  if (error instanceof HttpConnectionError) {
    return new WebSeedConnectionError(error.message, error.url, fileIndex, { cause: error.cause });
  }
  if (error instanceof HttpRedirectError) return new WebSeedRedirectError(error.message, error.url, fileIndex);
  return error;
}
