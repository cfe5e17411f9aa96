/**
 * Incremental decoder for the message stream that follows the handshake. Chunks are queued as they arrive
 * and each byte is copied at most once (only frames spanning chunks are assembled), so a peer dribbling a
 * frame byte by byte costs O(n), not O(n^2).
 */
import { WireProtocolError } from './errors.js';
import { BLOCK_SIZE, MessageId, checkFrameLength, decodeMessageBody, type WireMessage } from './messages.js';

/**
 * Default ceiling on a frame's length prefix: 128 KiB covers a bitfield of a million pieces and a BEP 9
 * metadata block (16 KiB + its bencoded header). Piece frames have their own, tighter ceiling.
 */
export const DEFAULT_MAX_MESSAGE_LENGTH = 128 * 1024;

export interface FrameDecoderOptions {
  /** Largest length prefix accepted; a larger one is refused as soon as its 4 bytes arrive. */
  maxMessageLength?: number;
  /** Largest block a piece message may carry (we never request more than BLOCK_SIZE). */
  maxBlockLength?: number;
}

export class FrameDecoder {
  readonly maxMessageLength: number;
  readonly maxBlockLength: number;
  /** Received chunks not yet consumed; chunks[first] is read from byte `head`. */
  private chunks: Uint8Array[] = [];
  private first = 0;
  private head = 0;
  private buffered = 0;
  /** Length prefix of the frame being assembled, or -1 while the prefix itself is incomplete. */
  private frameLength = -1;
  private frameIdChecked = false;
  private failure: WireProtocolError | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxMessageLength = options.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
    this.maxBlockLength = options.maxBlockLength ?? BLOCK_SIZE;
    if (!Number.isSafeInteger(this.maxMessageLength) || this.maxMessageLength < 13) {
      throw new RangeError(`maxMessageLength ${this.maxMessageLength} must be an integer of at least 13`);
    }
    if (!Number.isSafeInteger(this.maxBlockLength) || this.maxBlockLength < 0) {
      throw new RangeError(`maxBlockLength ${this.maxBlockLength} must be a non-negative integer`);
    }
  }

  /** Bytes received but not yet returned as messages. */
  get bufferedLength(): number {
    return this.buffered;
  }

  /**
   * Queues received bytes; call next() until it returns undefined. The chunk is kept (not copied) and piece
   * blocks of returned messages may be views into it, so the caller must not modify it afterwards, unless it
   * calls copyLastChunk() first.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * Copies what is still unread of the last pushed chunk, so the caller may reuse that chunk's memory (a
   * socket's read buffer). Blocks of messages already returned stay views into it.
   */
  copyLastChunk(): void {
    const last = this.chunks.length - 1;
    if (last < this.first) return;
    const start = last === this.first ? this.head : 0;
    // A copy (Buffer's own slice() would be a view).
    this.chunks[last] = new Uint8Array(this.chunks[last].subarray(start));
    if (last === this.first) this.head = 0;
  }

  /**
   * The next complete message, or undefined when more bytes are needed. Throws WireProtocolError on a
   * malformed stream; the decoder then stays failed and throws the same error on every call.
   */
  next(): WireMessage | undefined {
    if (this.failure) throw this.failure;
    try {
      return this.decodeNext();
    } catch (e) {
      if (e instanceof WireProtocolError) {
        this.failure = e;
        this.releaseBuffers();
      }
      throw e;
    }
  }

  private decodeNext(): WireMessage | undefined {
    if (this.frameLength < 0) {
      if (this.buffered < 4) return undefined;
      const length = ((this.byteAt(0) << 24) | (this.byteAt(1) << 16) | (this.byteAt(2) << 8) | this.byteAt(3)) >>> 0;
      if (length > this.maxMessageLength) {
        throw new WireProtocolError(`message length ${length} exceeds the limit of ${this.maxMessageLength} bytes`);
      }
      this.skip(4);
      this.frameLength = length;
      this.frameIdChecked = false;
    }
    const length = this.frameLength;
    if (length > 0 && !this.frameIdChecked) {
      if (this.buffered < 1) return undefined;
      // Refuse a wrong-sized frame from its id alone, before buffering its payload.
      const id = this.byteAt(0);
      checkFrameLength(id, length);
      if (id === MessageId.piece && length - 9 > this.maxBlockLength) {
        throw new WireProtocolError(`piece block of ${length - 9} bytes exceeds the limit of ${this.maxBlockLength}`);
      }
      this.frameIdChecked = true;
    }
    if (this.buffered < length) return undefined;
    this.frameLength = -1;
    // A frame within one chunk is decoded where it lies (a view of it, then one of a piece's block in it, would
    // cost two objects for every block); one spanning chunks is first copied together.
    const chunk = this.chunks[this.first];
    if (length > 0 && chunk.length - this.head >= length) {
      const start = this.head;
      this.skip(length);
      return decodeMessageBody(chunk, start, start + length);
    }
    const frame = new Uint8Array(length);
    this.consume(length, frame);
    return decodeMessageBody(frame, 0, length);
  }

  /** The byte `offset` bytes past the read position (offset < buffered). */
  private byteAt(offset: number): number {
    let pos = this.head + offset;
    for (let i = this.first; ; i++) {
      const c = this.chunks[i];
      if (pos < c.length) return c[pos];
      pos -= c.length;
    }
  }

  private skip(n: number): void {
    this.consume(n, undefined);
  }

  private consume(n: number, copyTo: Uint8Array | undefined): void {
    let done = 0;
    while (done < n) {
      const c = this.chunks[this.first];
      const count = Math.min(c.length - this.head, n - done);
      copyTo?.set(c.subarray(this.head, this.head + count), done);
      done += count;
      this.head += count;
      if (this.head === c.length) {
        this.first++;
        this.head = 0;
      }
    }
    this.buffered -= n;
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first > 64 && this.first * 2 > this.chunks.length) {
      // Drop consumed chunks in bulk, keeping the queue amortised O(1) per chunk.
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }

  private releaseBuffers(): void {
    this.chunks = [];
    this.first = 0;
    this.head = 0;
    this.buffered = 0;
  }
}
