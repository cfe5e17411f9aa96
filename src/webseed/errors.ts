/**
 * Errors of the web seed layer. HTTP status codes stay inside this layer: callers above see what a failure
 * means for the download (file missing on this mirror, mirror busy, mirror unusable...), not the protocol.
 */

export class WebSeedError extends Error {
  override name = 'WebSeedError';
  constructor(
    message: string,
    /** The URL that was requested (after redirects). */
    readonly url: string,
    /** Index in `meta.files` of the file being fetched, when the failure concerns one file. */
    readonly fileIndex?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The server answered with a status this layer does not know how to use (other 4xx, 5xx). */
export class WebSeedHttpError extends WebSeedError {
  override name = 'WebSeedHttpError';
  constructor(
    readonly status: number,
    url: string,
    fileIndex?: number,
    message = `web seed answered HTTP ${status} for ${url}`,
  ) {
    super(message, url, fileIndex);
  }
}

/** 404 / 410: this mirror does not have the file; it may still serve the torrent's other files. */
export class WebSeedFileMissingError extends WebSeedHttpError {
  override name = 'WebSeedFileMissingError';
  constructor(status: number, url: string, fileIndex?: number) {
    super(status, url, fileIndex, `web seed does not have ${url} (HTTP ${status})`);
  }
}

/** 429 / 503: the mirror is overloaded; retry after `retryAfterMs` when it said so. */
export class WebSeedBusyError extends WebSeedHttpError {
  override name = 'WebSeedBusyError';
  constructor(
    status: number,
    url: string,
    fileIndex: number | undefined,
    /** From the Retry-After header, when present and valid. */
    readonly retryAfterMs: number | undefined,
  ) {
    const wait = retryAfterMs === undefined ? '' : `, retry after ${Math.ceil(retryAfterMs / 1000)} s`;
    super(status, url, fileIndex, `web seed is busy (HTTP ${status}) for ${url}${wait}`);
  }
}

/**
 * The mirror cannot serve the byte range asked for:
 *  - 'not-satisfiable': HTTP 416, the file on the mirror is shorter than the torrent says;
 *  - 'mismatch': the response describes a different range or a file of a different size than the torrent's;
 *  - 'unsupported': the server ignores Range requests and the bytes wanted are too far into the file.
 */
export class WebSeedRangeError extends WebSeedError {
  override name = 'WebSeedRangeError';
  constructor(
    readonly kind: 'not-satisfiable' | 'mismatch' | 'unsupported',
    message: string,
    url: string,
    fileIndex?: number,
  ) {
    super(message, url, fileIndex);
  }
}

/** No progress within the configured time: connecting, waiting for response headers, or between body chunks. */
export class WebSeedTimeoutError extends WebSeedError {
  override name = 'WebSeedTimeoutError';
  constructor(
    readonly phase: 'connect' | 'headers' | 'body',
    url: string,
    fileIndex?: number,
    options?: ErrorOptions,
  ) {
    super(`web seed timed out (${phase}) on ${url}`, url, fileIndex, options);
  }
}

/** The connection failed or was closed mid-response (refused, reset, malformed HTTP). */
export class WebSeedConnectionError extends WebSeedError {
  override name = 'WebSeedConnectionError';
}

/** The response ended cleanly but carried fewer bytes than were asked for. */
export class WebSeedShortBodyError extends WebSeedError {
  override name = 'WebSeedShortBodyError';
  constructor(
    readonly expected: number,
    readonly received: number,
    url: string,
    fileIndex?: number,
  ) {
    super(`web seed sent ${received} of ${expected} bytes from ${url}`, url, fileIndex);
  }
}

/** Too many redirects, or a redirect without a usable http(s) Location. */
export class WebSeedRedirectError extends WebSeedError {
  override name = 'WebSeedRedirectError';
}

/**
 * Raised by WebSeedSource when it will not fetch: the mirror has been given up on, or a requested piece
 * touches a file this mirror does not have. `cause` holds the failure that led there.
 */
export class WebSeedUnavailableError extends WebSeedError {
  override name = 'WebSeedUnavailableError';
}
