/**
 * One HTTP/1.1 connection (TCP, or TLS for https) carrying one exchange at a time, parsed by http-parser-js.
 *
 * Why not node:http: its client reads every socket chunk into a freshly allocated 64 KiB buffer and its
 * parser copies each body chunk into another one. For a web seed that is two allocations per 64 KiB, whose
 * garbage collection and page faults cost more CPU than hashing the data. Here the socket reads into one
 * buffer per connection, reused for every read, and body bytes are handed on as views of it; or, over plain
 * TCP, straight into the memory where the reader wants the body (landBodyIn()), which saves copying it.
 */
import { type OnReadOpts, type Socket, connect as connectTcp, isIP } from 'node:net';
import { type ConnectionOptions, connect as connectTls } from 'node:tls';
import { HTTPParser } from 'http-parser-js';

/** Response headers by lower-case name; repeated headers are joined with ", ". */
export type HttpHeaders = Readonly<Record<string, string | undefined>>;

/** What the exchange in progress is told. No event comes after onError or onEnd. */
export interface HttpExchange {
  /** A new connection's TCP (and TLS) handshake is done. */
  onConnected(): void;
  /** Response headers of a final (non-1xx) status are in. */
  onHeaders(status: number, headers: HttpHeaders): void;
  /**
   * Part of the body: a view of the connection's read buffer, valid only during the call, or of the memory
   * given to landBodyIn(). Body parts received while the connection holds them (see holdBody()) come later,
   * as views or copies.
   */
  onBody(chunk: Buffer): void;
  /** The whole response is in. */
  onEnd(): void;
  /** The connection failed or closed before the response was whole; `responded`: response bytes had come. */
  onError(error: Error, responded: boolean): void;
}

/** Bytes read from the socket at a time, into the connection's own buffer. libuv asks for as much. */
const READ_BUFFER_BYTES = 64 * 1024;
const MALFORMED = 'malformed HTTP response';

export class HttpConnection {
  private readonly socket: Socket;
  private readonly parser = new HTTPParser(HTTPParser.RESPONSE);
  private readonly readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  private exchange: HttpExchange | undefined;
  /** Response bytes have arrived for the current exchange. */
  private responded = false;
  /** Status of the response being parsed; 1xx answers are skipped. */
  private status = 0;
  private keepAlive = false;
  private messageComplete = false;
  /** Body parts held back by holdBody(), and whether they are still views of the read buffer. */
  private held: Buffer[] | undefined;
  private heldAreViews = false;
  /** Until the TCP (and TLS) handshake is done. */
  private handshaking = true;
  /** Requests sent on this connection. */
  private sent = 0;
  /** Body bytes the response has still to send, when its Content-Length says so (not chunked, not to the close). */
  private bodyLeft: number | undefined;
  /** Where the next body bytes go (see landBodyIn()), and how much of it the body has reached. */
  private bodyTarget: { bytes: Buffer; reached: number } | undefined;
  /** Called once when the connection is closed, by either side. */
  onClose: () => void = () => {};

  constructor(
    /** Scheme, host and port: all the connection is for. */
    readonly origin: URL,
    tlsOptions: ConnectionOptions = {},
  ) {
    const host = origin.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(origin.port) || (origin.protocol === 'https:' ? 443 : 80);
    // Every buffer handed to libuv for a read is one of ours, a Buffer.
    const callback = (length: number, buffer: Uint8Array) => this.onRead(length, buffer as Buffer);
    if (origin.protocol === 'https:') {
      const onread: OnReadOpts = { buffer: this.readBuffer, callback };
      // SNI names a host, never an address (RFC 6066 §3).
      const servername = isIP(host) === 0 ? host : undefined;
      // node:tls takes `onread` as node:net does; its typings leave it out.
      const options: ConnectionOptions & { onread: OnReadOpts } = { ...tlsOptions, host, port, servername, onread };
      this.socket = connectTls(options);
      this.socket.once('secureConnect', () => this.onConnected());
    } else {
      // libuv asks for the buffer of each read after the previous one is handled, when the body's progress is known.
      const onread: OnReadOpts = { buffer: () => this.nextReadBuffer(), callback };
      this.socket = connectTcp({ host, port, onread });
      this.socket.once('connect', () => this.onConnected());
    }
    this.socket.setNoDelay(true);
    this.socket.on('error', (error) => this.fail(error));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('close', () => this.onSocketClose());
    this.parser[HTTPParser.kOnHeadersComplete] = (info) => this.onHeaders(info.statusCode, info.headers, info.shouldKeepAlive);
    this.parser[HTTPParser.kOnBody] = (chunk, offset, length) => this.onBody(chunk.subarray(offset, offset + length));
    this.parser[HTTPParser.kOnMessageComplete] = () => this.onMessageComplete();
  }

  /** TCP or TLS handshake still in progress. */
  get connecting(): boolean {
    return this.handshaking;
  }

  /** Has carried an earlier exchange: a server may have closed it meanwhile. */
  get reused(): boolean {
    return this.sent > 1;
  }

  /** Open, idle, and good for another request. */
  get reusable(): boolean {
    // A socket is destroyed at once; its 'close' event, which takes it out of a pool, comes a turn later.
    return !this.socket.destroyed && this.exchange === undefined && this.keepAlive;
  }

  /** Sends a request head (no body) and reports its response to `exchange`. */
  send(head: string, exchange: HttpExchange): void {
    this.exchange = exchange;
    this.responded = false;
    this.status = 0;
    this.messageComplete = false;
    this.keepAlive = false;
    this.bodyLeft = undefined;
    this.bodyTarget = undefined;
    this.sent++;
    this.socket.ref();
    this.socket.write(head, 'latin1');
  }

  /**
   * Keeps body parts back from the exchange until releaseBody(): after the headers the reader of the body may
   * only attach a turn later. Reading stops, so the parts already read stay valid where they are.
   */
  holdBody(): void {
    this.held ??= [];
    this.heldAreViews = true;
    this.socket.pause();
  }

  /**
   * Lets the body bytes still to come be read straight into `target`, front to back (the socket reads no
   * further than the body's end), instead of into the read buffer and then copied there: onBody reports those
   * as views of `target` itself, where its reader need not copy them. Parts that came earlier, or that do
   * not fit, are reported as usual; each part reported from now on, wherever it was read, moves the place
   * in `target` where the next one lands. Over TLS, or without a Content-Length, this changes nothing.
   * `target` must stay untouched by anything else until the exchange ends (a failed exchange closes the
   * connection, so no read lands there afterwards).
   */
  landBodyIn(target: Buffer): void {
    this.bodyTarget = { bytes: target, reached: 0 };
  }

  /** Hands held body parts (and the end, if it came) to the exchange and goes on reading. */
  releaseBody(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const chunk of held) this.deliver(chunk);
    if (this.messageComplete) this.finishExchange();
    if (!this.socket.destroyed) this.socket.resume();
  }

  /** Ends the exchange (if any) and the connection. */
  destroy(): void {
    this.exchange = undefined;
    this.bodyTarget = undefined;
    this.socket.destroy();
  }

  /** The connection waits idle in a pool: it must not keep the process alive. */
  idle(): void {
    this.socket.unref();
  }

  /** The buffer of the next socket read (plain TCP): the body's target while it has room, else the read buffer. */
  private nextReadBuffer(): Buffer {
    const target = this.bodyTarget;
    if (target === undefined || this.bodyLeft === undefined || this.socket.destroyed) return this.readBuffer;
    const size = Math.min(target.bytes.length - target.reached, this.bodyLeft);
    return size > 0 ? target.bytes.subarray(target.reached, target.reached + size) : this.readBuffer;
  }

  private onRead(length: number, buffer: Buffer): boolean {
    // TLS may hand over more records after reading stopped: keep what is held before it is overwritten.
    if (this.held !== undefined && this.heldAreViews) {
      this.held = this.held.map((chunk) => Buffer.from(chunk));
      this.heldAreViews = false;
    }
    if (this.exchange === undefined) {
      this.fail(new Error('the server sent data while no request was waiting for it'));
      return false;
    }
    this.responded = true;
    let result: number | Error;
    try {
      // Returns what is wrong with the bytes; throws what a callback threw.
      // http-parser-js counts all the bytes of a call that ends between two answers as header bytes, against
      // its 80 KiB limit. A read straight into a body's target may be megabytes long and end the body: its
      // last read buffer's worth goes in a call of its own, as when everything came through the read buffer.
      const split = Math.max(0, length - READ_BUFFER_BYTES);
      result = split > 0 ? this.parser.execute(buffer, 0, split) : 0;
      if (!(result instanceof Error)) result = this.parser.execute(buffer, split, length - split);
    } catch (error) {
      result = error as Error;
    }
    if (result instanceof Error) {
      this.fail(result.message.startsWith(MALFORMED) ? result : new Error(`${MALFORMED} (${result.message})`));
      return false;
    }
    return this.held === undefined;
  }

  private onConnected(): void {
    this.handshaking = false;
    this.exchange?.onConnected();
  }

  private onHeaders(status: number, fields: string[], keepAlive: boolean): void {
    if (this.exchange === undefined || this.messageComplete) throw new Error(`${MALFORMED} (more than one answer)`);
    this.status = status;
    if (status < 200) return;
    const headers: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i].toLowerCase();
      headers[name] = headers[name] === undefined ? fields[i + 1] : `${headers[name]}, ${fields[i + 1]}`;
    }
    // The parser reads a malformed length as NaN or a negative number; never trust such a body's end.
    const length = headers['content-length'];
    if (length !== undefined && !/^\d+$/.test(length)) {
      throw new Error(`${MALFORMED} (Content-Length ${JSON.stringify(length)})`);
    }
    this.keepAlive = keepAlive;
    // Responses to a GET: only 204 and 304 have no body whatever their headers say (RFC 9112 §6.3).
    const chunked = headers['transfer-encoding'] !== undefined;
    if (status === 204 || status === 304) this.bodyLeft = 0;
    else this.bodyLeft = length !== undefined && !chunked ? Number(length) : undefined;
    this.exchange?.onHeaders(status, headers);
  }

  private onBody(chunk: Buffer): void {
    if (this.bodyLeft !== undefined) this.bodyLeft -= chunk.length;
    if (this.held !== undefined) this.held.push(this.heldAreViews ? chunk : Buffer.from(chunk));
    else this.deliver(chunk);
  }

  /** Hands a body part to the exchange; the next part lands that much further into the body's target. */
  private deliver(chunk: Buffer): void {
    const target = this.bodyTarget;
    if (target !== undefined) target.reached = Math.min(target.bytes.length, target.reached + chunk.length);
    this.exchange?.onBody(chunk);
  }

  private onMessageComplete(): void {
    if (this.status < 200) return;
    this.messageComplete = true;
    if (this.held === undefined) this.finishExchange();
  }

  private finishExchange(): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    this.bodyTarget = undefined;
    exchange?.onEnd();
  }

  /** End of the server's side: a body read until the connection closes ends here; anything else was cut. */
  private onEnd(): void {
    const error = this.parser.finish();
    if (error instanceof Error) this.fail(new Error('the server closed the connection before the response was complete'));
    this.keepAlive = false;
  }

  private fail(error: Error): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    this.bodyTarget = undefined;
    this.socket.destroy();
    exchange?.onError(error, this.responded);
  }

  private onSocketClose(): void {
    this.fail(new Error('the connection was closed'));
    this.onClose();
  }
}
