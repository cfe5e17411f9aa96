/**
 * One BEP 19 web seed (a `url-list` entry): turns a byte range of the torrent into HTTP Range requests, one
 * per file the range touches, and assembles the answer. A single attempt per call: retrying, backoff and
 * giving up on a mirror are WebSeedSource's job.
 */
import { setMaxListeners } from 'node:events';
import { copyInto, sharedBuffers } from '../hashing/index.js';
import { FileLayout, type FileSpan, type Metainfo } from '../metainfo/index.js';
import {
  type HttpConnectionPool,
  type HttpGet,
  type HttpHeaders,
  type HttpPhase,
  type RedirectingGetOptions,
  sendFollowingRedirects,
} from '../http/index.js';
import {
  WebSeedBusyError,
  WebSeedError,
  WebSeedFileMissingError,
  WebSeedHttpError,
  WebSeedRangeError,
  WebSeedShortBodyError,
} from './errors.js';
import { asWebSeedError, createWebSeedConnections } from './transport.js';
import { webSeedFileUrls } from './url.js';

export interface WebSeedOptions {
  /**
   * Connection pool to use, e.g. one shared by all web seeds of a client (see createWebSeedConnections), or
   * one with other TLS settings. Not destroyed by close(). When absent the web seed makes its own.
   */
  connections?: HttpConnectionPool;
  /** Parallel keep-alive connections per host for an own pool. Default 4. */
  connectionsPerHost?: number;
  /** Until a new connection is up, TLS handshake included. Default 10 s. */
  connectTimeoutMs?: number;
  /** From sending a request to receiving the response headers. Default 30 s. */
  headersTimeoutMs?: number;
  /** Longest silence between two body chunks. Default 30 s. */
  bodyTimeoutMs?: number;
  /** Default 5. Internet Archive and mirror networks redirect every download once or twice. */
  maxRedirects?: number;
  /**
   * When a server ignores Range and sends the whole file (200), bytes before the wanted range must be read
   * and thrown away. Up to this offset into the file that is accepted; further in, the server is reported as
   * having no range support. Default 1 MiB.
   */
  ignoredRangeSkipLimit?: number;
  userAgent?: string;
  /** Clock for Retry-After dates. Default Date.now. */
  now?: () => number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;
const DEFAULT_BODY_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_REDIRECTS = 5;
const DEFAULT_IGNORED_RANGE_SKIP_LIMIT = 1 << 20;

/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns milliseconds to wait, or undefined
 * when the header is absent or unusable.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Date.parse accepts nearly anything; demand the shape of an HTTP-date (a weekday name first).
  if (!/^[A-Za-z]{3,9}, /.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

interface ContentRange {
  start: number;
  end: number;
  /** undefined for "*" (length unknown to the server). */
  total: number | undefined;
}

function parseContentRange(value: string | undefined): ContentRange | undefined {
  const match = value === undefined ? null : /^bytes (\d+)-(\d+)\/(\d+|\*)$/i.exec(value.trim());
  if (!match) return undefined;
  return { start: Number(match[1]), end: Number(match[2]), total: match[3] === '*' ? undefined : Number(match[3]) };
}

export class WebSeed {
  /** URL of each file of the torrent on this mirror, in `meta.files` order. */
  readonly fileUrls: readonly string[];
  private readonly pool: HttpConnectionPool;
  private readonly ownsPool: boolean;
  private readonly timeoutsMs: Readonly<Record<HttpPhase, number>>;
  private readonly maxRedirects: number;
  private readonly ignoredRangeSkipLimit: number;
  private readonly userAgent: string | undefined;
  private readonly now: () => number;
  private received = 0;
  /** Which files hold a torrent range: one ranged request per file span. */
  readonly layout: FileLayout;

  constructor(
    /** The `url-list` entry, as returned by parseWebSeedList. */
    readonly url: string,
    private readonly meta: Metainfo,
    options: WebSeedOptions = {},
  ) {
    this.fileUrls = webSeedFileUrls(url, meta);
    this.layout = new FileLayout(meta);
    this.ownsPool = options.connections === undefined;
    this.pool = options.connections ?? createWebSeedConnections(options);
    this.timeoutsMs = {
      connect: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      headers: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
      body: options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
    };
    this.maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
    this.ignoredRangeSkipLimit = options.ignoredRangeSkipLimit ?? DEFAULT_IGNORED_RANGE_SKIP_LIMIT;
    this.userAgent = options.userAgent;
    this.now = options.now ?? Date.now;
  }

  /** Response body bytes received so far, including bytes skipped from servers that ignore Range. */
  get bytesReceived(): number {
    return this.received;
  }

  /**
   * Fetch bytes [torrentOffset, torrentOffset + length) of the torrent's concatenated data: one ranged GET
   * per file the range touches (in parallel, bounded by the connection pool); BEP 47 padding files are zeros
   * and never requested. Rejects with a WebSeedError subclass, or with `signal.reason` when aborted.
   * The result is a `sharedBuffers` buffer: release it when done to have it reused (else it is collected).
   */
  async fetchRange(torrentOffset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    if (!Number.isSafeInteger(torrentOffset) || !Number.isSafeInteger(length) || torrentOffset < 0 || length < 0) {
      throw new RangeError(`invalid range: offset ${torrentOffset}, length ${length}`);
    }
    if (torrentOffset + length > this.meta.totalLength) {
      throw new RangeError(
        `range ${torrentOffset}+${length} runs past the end of the torrent (${this.meta.totalLength} bytes)`,
      );
    }
    signal?.throwIfAborted();
    // A pooled shared buffer, which the piece hashing threads read where it is. The caller owns its reference.
    const out = sharedBuffers.take(length);
    const spans: FileSpan[] = [];
    for (const span of this.layout.spans(torrentOffset, length)) {
      if (this.meta.files[span.fileIndex].padding) out.fill(0, span.bufferOffset, span.bufferOffset + span.length);
      else spans.push(span);
    }
    // One failed span makes the whole range useless: stop the others instead of letting them finish.
    const spansController = new AbortController();
    // Each span's request listens to the signal: a range over many small files is that many listeners at
    // once, not a leak.
    setMaxListeners(Math.max(10, spans.length), spansController.signal);
    const forwardAbort = () => spansController.abort(signal?.reason);
    signal?.addEventListener('abort', forwardAbort, { once: true });
    const requests = spans.map((span) => this.fetchSpan(span, out, spansController.signal));
    try {
      await Promise.all(requests);
      return out;
    } catch (error) {
      spansController.abort();
      await Promise.allSettled(requests);
      sharedBuffers.release(out);
      signal?.throwIfAborted();
      throw error;
    } finally {
      signal?.removeEventListener('abort', forwardAbort);
    }
  }

  /** Destroy the connection pool, unless it was given in the options. */
  async close(): Promise<void> {
    if (this.ownsPool) this.pool.destroy();
  }

  private async fetchSpan(span: FileSpan, out: Buffer, signal: AbortSignal): Promise<void> {
    let get: HttpGet | undefined;
    try {
      get = await sendFollowingRedirects(this.fileUrls[span.fileIndex], this.requestOptions(span, signal));
      await this.readAnswer(get, span, out);
    } catch (error) {
      throw asWebSeedError(error, span.fileIndex);
    } finally {
      // A response given up on, read or not, must not leave its connection half-read in the pool.
      get?.close();
    }
  }

  private requestOptions(span: FileSpan, signal: AbortSignal): RedirectingGetOptions {
    const range = `bytes=${span.fileOffset}-${span.fileOffset + span.length - 1}`;
    const { pool, userAgent, timeoutsMs, maxRedirects } = this;
    return { pool, headers: { range }, userAgent, timeoutsMs, signal, maxRedirects };
  }

  private async readAnswer(get: HttpGet, span: FileSpan, out: Buffer): Promise<void> {
    const { status, headers, url } = get;
    if (status === 206) {
      this.checkContentRange(headers['content-range'], span, url);
      return this.copyBody(get, span, out, 0, false);
    }
    if (status === 200) return this.readIgnoringRange(get, span, out);
    await get.discardBody();
    throw this.statusError(status, headers, url, span.fileIndex);
  }

  private statusError(status: number, headers: HttpHeaders, url: string, fileIndex: number): WebSeedError {
    if (status === 404 || status === 410) return new WebSeedFileMissingError(status, url, fileIndex);
    if (status === 416) {
      const file = this.meta.files[fileIndex];
      return new WebSeedRangeError(
        'not-satisfiable',
        `web seed refused the byte range (HTTP 416): ${url} is shorter than the torrent's ${file.length} bytes`,
        url,
        fileIndex,
      );
    }
    if (status === 429 || status === 503) {
      const retryAfterMs = parseRetryAfter(headers['retry-after'], this.now());
      return new WebSeedBusyError(status, url, fileIndex, retryAfterMs);
    }
    return new WebSeedHttpError(status, url, fileIndex);
  }

  /** A 206 must describe exactly the range asked for, within a file as long as the torrent says. */
  private checkContentRange(header: string | undefined, span: FileSpan, url: string): void {
    const range = parseContentRange(header);
    const fileLength = this.meta.files[span.fileIndex].length;
    const wantedEnd = span.fileOffset + span.length - 1;
    let problem: string | undefined;
    if (range === undefined) {
      problem = `a 206 response without a valid Content-Range (${JSON.stringify(header ?? null)})`;
    } else if (range.start !== span.fileOffset || range.end !== wantedEnd) {
      problem = `bytes ${range.start}-${range.end} instead of ${span.fileOffset}-${wantedEnd}`;
    } else if (range.total !== undefined && range.total !== fileLength) {
      problem = `a file of ${range.total} bytes where the torrent has ${fileLength}`;
    }
    if (problem !== undefined) {
      throw new WebSeedRangeError('mismatch', `web seed sent ${problem} for ${url}`, url, span.fileIndex);
    }
  }

  /**
   * A 200 answer carries the whole file. Near its start, reading and discarding the leading bytes is cheaper
   * than giving up on the mirror; further in it is not.
   */
  private async readIgnoringRange(get: HttpGet, span: FileSpan, out: Buffer): Promise<void> {
    const { url } = get;
    const fileLength = this.meta.files[span.fileIndex].length;
    const contentLength = get.headers['content-length'];
    if (contentLength !== undefined && Number(contentLength) !== fileLength) {
      throw new WebSeedRangeError(
        'mismatch',
        `web seed sent a file of ${contentLength} bytes where the torrent has ${fileLength}: ${url}`,
        url,
        span.fileIndex,
      );
    }
    if (span.fileOffset > this.ignoredRangeSkipLimit) {
      throw new WebSeedRangeError(
        'unsupported',
        `web seed ignores Range requests, so byte ${span.fileOffset} of ${url} is out of reach`,
        url,
        span.fileIndex,
      );
    }
    await this.copyBody(get, span, out, span.fileOffset, true);
  }

  /**
   * Copy body bytes [skip, skip + span.length) into `out` at span.bufferOffset. With `stopWhenDone` the rest of
   * the body is abandoned (closing the connection); otherwise the body is read to its end so the keep-alive
   * connection can be reused.
   */
  private async copyBody(get: HttpGet, span: FileSpan, out: Buffer, skip: number, stopWhenDone: boolean): Promise<void> {
    const wantedEnd = skip + span.length;
    let position = 0;
    let copied = 0;
    // A body without bytes to skip may be read straight into its place in `out`.
    const place = skip === 0 ? out.subarray(span.bufferOffset, span.bufferOffset + span.length) : undefined;
    const onChunk = (chunk: Buffer) => {
      this.received += chunk.length;
      const from = Math.max(skip - position, 0);
      const to = Math.min(wantedEnd - position, chunk.length);
      if (to > from) {
        const at = span.bufferOffset + copied;
        const landedInPlace = chunk.buffer === out.buffer && chunk.byteOffset === out.byteOffset + at;
        if (!landedInPlace) copyInto(out, chunk.subarray(from, to), at);
        copied += to - from;
      }
      position += chunk.length;
      return !stopWhenDone || position < wantedEnd;
    };
    await get.readBody(onChunk, place);
    if (copied < span.length) throw new WebSeedShortBodyError(span.length, copied, get.url, span.fileIndex);
  }
}
