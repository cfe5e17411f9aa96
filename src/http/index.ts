/** The HTTP client shared by trackers and web seeds: keep-alive connection pools and timed, abortable GETs. */
export type { HttpHeaders } from './connection.js';
export { HttpConnectionPool, type HttpConnectionPoolOptions } from './pool.js';
export { HttpGet, type HttpGetOptions, type HttpPhase } from './get.js';
export { sendFollowingRedirects, type RedirectingGetOptions } from './redirects.js';
export { HttpConnectionError, HttpError, HttpRedirectError, HttpTimeoutError } from './errors.js';
