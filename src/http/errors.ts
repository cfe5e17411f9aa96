/**
 * Errors of the HTTP client. The layers above say what a failure means for them: the web seeds and the
 * trackers turn these into their own errors, naming the file or the tracker concerned.
 */

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    message: string,
    /** The URL that was requested (after redirects). */
    readonly url: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** No progress within the time allowed: connecting (TLS included), waiting for response headers, or between body chunks. */
export class HttpTimeoutError extends HttpError {
  override name = 'HttpTimeoutError';
  constructor(
    readonly phase: 'connect' | 'headers' | 'body',
    url: string,
  ) {
    super(`HTTP request timed out (${phase}) on ${url}`, url);
  }
}

/** The connection failed or was closed mid-response (refused, reset, TLS refused, malformed HTTP). */
export class HttpConnectionError extends HttpError {
  override name = 'HttpConnectionError';
}

/** Too many redirects, or a redirect without a usable http(s) Location. */
export class HttpRedirectError extends HttpError {
  override name = 'HttpRedirectError';
}
