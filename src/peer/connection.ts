/**
 * One peer wire connection after the handshake (BEP 3): decodes incoming messages, tracks the four
 * choke/interest flags, sends messages, keeps the link alive and drops it when the peer goes silent.
 *
 * Open one with PeerConnection.connect() (outgoing) or acceptHandshake() (incoming). Both resolve once
 * the handshakes are exchanged, with the connection paused: attach listeners, then call start().
 *
 * Events (typed in PeerConnectionEvents):
 *   'message' (message)  every decoded message, after the flags above are updated from it. A piece message's
 *                        block is valid only during the event (it may lie in a reused read buffer): copy it
 *                        to keep it.
 *   'drain'   ()         the socket's write buffer emptied (see bufferedAmount)
 *   'close'   (error?)   exactly once; error is undefined only for destroy() without a reason
 * Nothing is thrown out of socket callbacks: every failure becomes 'close' with a PeerConnectionError.
 */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { Bitfield } from '../bitfield/index.js';
import {
  FrameDecoder,
  WireProtocolError,
  encodeHandshake,
  encodeMessage,
  encodePieceHeader,
  encodeRequests,
  supportsExtensionProtocol,
  type BlockRange,
  type FrameDecoderOptions,
  type Handshake,
  type WireMessage,
} from '../wire/index.js';
import { PeerConnectionError } from './errors.js';
import { PeerSocket, readHandshake, type ReceivedHandshake } from './handshake-exchange.js';

/** BEP 3: keep-alives are "generally sent once every two minutes"; we send one after 60 s without writing. */
export const DEFAULT_KEEP_ALIVE_INTERVAL_MS = 60_000;
/** BEP 3: connections are "generally timed out" after 2 minutes without any message; we allow 150 s. */
export const DEFAULT_IDLE_TIMEOUT_MS = 150_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 20_000;

export interface PeerConnectionOptions {
  /** Send a keep-alive after this long without writing anything. */
  keepAliveIntervalMs?: number;
  /** Close with 'idle-timeout' after this long without receiving any byte. */
  idleTimeoutMs?: number;
  /** When known, bitfield and have messages are validated against it (see setPieceCount). */
  pieceCount?: number;
  decoder?: FrameDecoderOptions;
}

export interface ConnectOptions extends PeerConnectionOptions {
  host: string;
  port: number;
  infoHash: Uint8Array;
  /** Our peer id. */
  peerId: Uint8Array;
  /** Our reserved handshake bytes; default: BEP 10 extension protocol only. */
  reserved?: Uint8Array;
  connectTimeoutMs?: number;
  /** Time allowed for the remote's handshake after the TCP connection is up. */
  handshakeTimeoutMs?: number;
}

/** What acceptHandshake needs to answer for one torrent; the session may return a richer object. */
export interface HandshakeAnswer {
  /** Our peer id for this torrent. */
  peerId: Uint8Array;
  reserved?: Uint8Array;
}

export interface AcceptOptions extends PeerConnectionOptions {
  handshakeTimeoutMs?: number;
}

export interface PeerConnectionEvents {
  message: [message: WireMessage];
  drain: [];
  close: [error: PeerConnectionError | undefined];
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

export class PeerConnection extends EventEmitter<PeerConnectionEvents> {
  /**
   * Connects to a peer and exchanges handshakes; rejects with a PeerConnectionError ('connect-failed',
   * 'connect-timeout', 'handshake-timeout', 'info-hash-mismatch', 'self-connection', 'protocol', ...).
   */
  static async connect(options: ConnectOptions): Promise<PeerConnection> {
    const { host, port, infoHash, peerId } = options;
    const peer = await PeerSocket.connect(host, port, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    peer.socket.write(encodeHandshake({ infoHash, peerId, reserved: options.reserved }));
    const received = await readHandshake(peer, options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, (theirs) => {
      if (!sameBytes(theirs, infoHash)) {
        throw new PeerConnectionError(
          'info-hash-mismatch',
          `${host}:${port} answered for torrent ${Buffer.from(theirs).toString('hex')}, not ${Buffer.from(infoHash).toString('hex')}`,
        );
      }
    });
    return PeerConnection.fromHandshake(peer, infoHash, peerId, received, options);
  }

  /** @internal Used by connect() and acceptHandshake(). */
  static fromHandshake(
    peer: PeerSocket,
    infoHash: Uint8Array,
    localPeerId: Uint8Array,
    received: ReceivedHandshake,
    options: PeerConnectionOptions,
  ): PeerConnection {
    if (sameBytes(received.remote.peerId, localPeerId)) {
      peer.socket.destroy();
      throw new PeerConnectionError('self-connection', 'connected to ourselves (the remote peer id is our own)');
    }
    return new PeerConnection(peer, infoHash, localPeerId, received.remote, received.rest, options);
  }

  readonly infoHash: Uint8Array;
  readonly localPeerId: Uint8Array;
  readonly remotePeerId: Uint8Array;
  /** The remote's 8 reserved handshake bytes (extension support bits). */
  readonly remoteReserved: Uint8Array;
  /** The remote announced the BEP 10 extension protocol. */
  readonly supportsExtensions: boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;

  /** Payload bytes received in piece messages. */
  downloadedBytes = 0;
  /** Payload bytes sent in piece messages. */
  uploadedBytes = 0;

  // BEP 3: "Connections start out choked and not interested."
  #amChoking = true;
  #amInterested = false;
  #peerChoking = true;
  #peerInterested = false;

  readonly #socket: net.Socket;
  readonly #decoder: FrameDecoder;
  readonly #keepAliveIntervalMs: number;
  readonly #idleTimeoutMs: number;
  #pieceCount: number | undefined;
  #started = false;
  /** Set on the tick after start(); events are emitted only from then on. */
  #delivering = false;
  #closed = false;
  /** The socket is corked until the end of this tick (see sendPiece). */
  #corked = false;
  #closeError: PeerConnectionError | undefined;
  #keepAliveTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;

  private constructor(
    peer: PeerSocket,
    infoHash: Uint8Array,
    localPeerId: Uint8Array,
    remote: Handshake,
    rest: Uint8Array,
    options: PeerConnectionOptions,
  ) {
    super();
    const { socket } = peer;
    this.#socket = socket;
    this.infoHash = infoHash;
    this.localPeerId = localPeerId;
    this.remotePeerId = remote.peerId;
    this.remoteReserved = remote.reserved;
    this.supportsExtensions = supportsExtensionProtocol(remote.reserved);
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.#decoder = new FrameDecoder(options.decoder);
    this.#keepAliveIntervalMs = options.keepAliveIntervalMs ?? DEFAULT_KEEP_ALIVE_INTERVAL_MS;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (options.pieceCount !== undefined) this.setPieceCount(options.pieceCount);
    this.#decoder.push(rest);
    socket.setNoDelay(true);
    peer.receiver = (bytes) => this.#onData(bytes);
    socket.on('drain', () => this.#emitSafely('drain'));
    socket.on('error', (e) => this.destroy(new PeerConnectionError('socket-error', `connection failed: ${e.message}`, { cause: e })));
    socket.on('close', () => this.destroy(new PeerConnectionError('closed-by-peer', 'the peer closed the connection')));
  }

  get amChoking(): boolean {
    return this.#amChoking;
  }
  get amInterested(): boolean {
    return this.#amInterested;
  }
  get peerChoking(): boolean {
    return this.#peerChoking;
  }
  get peerInterested(): boolean {
    return this.#peerInterested;
  }
  get closed(): boolean {
    return this.#closed;
  }
  /** Bytes queued in the socket, not yet handed to the kernel; 'drain' follows when they are. */
  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  /**
   * Begins delivering events, from the next tick on (so listeners attached right after start() still see
   * everything); messages that arrived with the handshake come first. Later calls do nothing.
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    process.nextTick(() => {
      this.#delivering = true;
      if (this.#closed) {
        this.#emitSafely('close', this.#closeError);
        return;
      }
      this.#keepAliveTimer = setTimeout(() => this.keepAlive(), this.#keepAliveIntervalMs).unref();
      this.#idleTimer = setTimeout(
        () => this.destroy(new PeerConnectionError('idle-timeout', `nothing received for ${this.#idleTimeoutMs} ms`)),
        this.#idleTimeoutMs,
      ).unref();
      this.#deliverMessages();
      if (!this.#closed) this.#socket.resume();
    });
  }

  /** Enables validation of bitfield (exact size, spare bits clear) and have (index in range) messages. */
  setPieceCount(pieceCount: number): void {
    if (!Number.isSafeInteger(pieceCount) || pieceCount < 1) throw new RangeError(`piece count ${pieceCount} must be a positive integer`);
    this.#pieceCount = pieceCount;
  }

  // The four flag setters send only on a change, so callers can state their wish without tracking it.
  choke(): void {
    if (this.#amChoking) return;
    this.#amChoking = true;
    this.#send({ type: 'choke' });
  }
  unchoke(): void {
    if (!this.#amChoking) return;
    this.#amChoking = false;
    this.#send({ type: 'unchoke' });
  }
  interested(): void {
    if (this.#amInterested) return;
    this.#amInterested = true;
    this.#send({ type: 'interested' });
  }
  notInterested(): void {
    if (!this.#amInterested) return;
    this.#amInterested = false;
    this.#send({ type: 'notInterested' });
  }

  have(index: number): void {
    this.#send({ type: 'have', index });
  }
  /** BEP 3: only valid as the first message after the handshake. */
  bitfield(bytes: Uint8Array): void {
    this.#send({ type: 'bitfield', bytes });
  }
  request(index: number, begin: number, length: number): void {
    this.#send({ type: 'request', index, begin, length });
  }
  /**
   * Several REQUESTs in one socket write: a socket write is a system call, and a fast download sends
   * thousands of 17-byte requests a second.
   */
  requestMany(blocks: readonly BlockRange[]): void {
    if (this.#closed || blocks.length === 0) return;
    this.#write(encodeRequests(blocks));
  }
  cancel(index: number, begin: number, length: number): void {
    this.#send({ type: 'cancel', index, begin, length });
  }
  /**
   * Writes the piece header and the block separately (no concatenation copy). Blocks sent in the same turn
   * of the event loop leave in one writev. `onSent` runs once the socket is done with `block` (written, or
   * the connection closed), so its memory can be reused.
   */
  sendPiece(index: number, begin: number, block: Uint8Array, onSent?: () => void): void {
    if (this.#closed) {
      onSent?.();
      return;
    }
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#write(encodePieceHeader(index, begin, block.length));
    this.#write(block, onSent);
    this.uploadedBytes += block.length;
  }
  /** BEP 10 extended message; id 0 is the extension handshake. */
  extended(id: number, payload: Uint8Array): void {
    this.#send({ type: 'extended', id, payload });
  }
  keepAlive(): void {
    this.#send({ type: 'keepalive' });
  }

  /**
   * Closes the connection and emits 'close' once. Without a reason the close carries no error; a string
   * becomes a PeerConnectionError with code 'destroyed'. Calls after the first are ignored.
   */
  destroy(reason?: string | PeerConnectionError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = typeof reason === 'string' ? new PeerConnectionError('destroyed', reason) : reason;
    clearTimeout(this.#keepAliveTimer);
    clearTimeout(this.#idleTimer);
    this.#socket.destroy();
    if (this.#delivering) this.#emitSafely('close', this.#closeError);
  }

  /** Sending on a closed connection is a no-op: closing races with the session's decisions. */
  #send(message: WireMessage): void {
    if (this.#closed) return;
    this.#write(encodeMessage(message));
  }

  #write(bytes: Uint8Array, onWritten?: () => void): void {
    this.#socket.write(bytes, onWritten && (() => onWritten()));
    this.#keepAliveTimer?.refresh();
  }

  /** `bytes` may lie in a reused read buffer: whatever the decoder still holds of them is copied before returning. */
  #onData(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#idleTimer?.refresh();
    this.#decoder.push(bytes);
    if (this.#delivering) this.#deliverMessages();
    this.#decoder.copyLastChunk();
  }

  #deliverMessages(): void {
    try {
      while (!this.#closed) {
        const m = this.#decoder.next();
        if (m === undefined) break;
        this.#handle(m);
      }
    } catch (e) {
      if (e instanceof WireProtocolError) this.destroy(new PeerConnectionError('protocol', e.message, { cause: e }));
      else this.destroy(new PeerConnectionError('handler-error', `a message listener threw: ${String(e)}`, { cause: e }));
    }
  }

  #handle(m: WireMessage): void {
    switch (m.type) {
      case 'choke':
        this.#peerChoking = true;
        break;
      case 'unchoke':
        this.#peerChoking = false;
        break;
      case 'interested':
        this.#peerInterested = true;
        break;
      case 'notInterested':
        this.#peerInterested = false;
        break;
      case 'have':
        if (this.#pieceCount !== undefined && m.index >= this.#pieceCount) {
          throw new WireProtocolError(`have for piece ${m.index}, but the torrent has ${this.#pieceCount} pieces`);
        }
        break;
      case 'bitfield':
        // BEP 3 puts the bitfield first, but aria2 sends another one mid-connection in place of a batch of
        // HAVEs when that is shorter, and libtorrent and Transmission accept it; so do we. Its size is checked.
        if (this.#pieceCount !== undefined) this.#checkBitfield(m.bytes, this.#pieceCount);
        break;
      case 'piece':
        this.downloadedBytes += m.block.length;
        break;
    }
    this.emit('message', m);
  }

  #checkBitfield(bytes: Uint8Array, pieceCount: number): void {
    try {
      new Bitfield(pieceCount, bytes);
    } catch (e) {
      throw new WireProtocolError(`invalid bitfield for ${pieceCount} pieces: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * For events emitted from socket callbacks. A throwing 'drain' listener closes the connection like a
   * throwing 'message' listener; a throwing 'close' listener is a bug with nothing left to close, so it is
   * rethrown outside the socket callback.
   */
  #emitSafely<K extends keyof PeerConnectionEvents>(event: K, ...args: PeerConnectionEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: PeerConnectionEvents[K]) => boolean)(event, ...args);
    } catch (e) {
      if (event === 'close') {
        process.nextTick(() => {
          throw e;
        });
      } else {
        this.destroy(new PeerConnectionError('handler-error', `a '${event}' listener threw: ${String(e)}`, { cause: e }));
      }
    }
  }
}

/**
 * Reads the handshake of an accepted connection, asks `lookup` which of our torrents it wants (undefined
 * refuses with 'unknown-info-hash'), answers with our handshake for that torrent, then waits for the
 * remote's peer id. Resolves with the paused connection and whatever `lookup` returned.
 */
export async function acceptHandshake<T extends HandshakeAnswer>(
  socket: net.Socket,
  lookup: (infoHash: Uint8Array) => T | undefined,
  options: AcceptOptions = {},
): Promise<{ connection: PeerConnection; torrent: T }> {
  let torrent: T | undefined;
  let infoHash: Uint8Array | undefined;
  const peer = PeerSocket.accepted(socket);
  const received = await readHandshake(peer, options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, (theirs) => {
    torrent = lookup(theirs);
    if (!torrent) {
      throw new PeerConnectionError('unknown-info-hash', `the peer asked for torrent ${Buffer.from(theirs).toString('hex')}, which we do not serve`);
    }
    infoHash = theirs;
    socket.write(encodeHandshake({ infoHash: theirs, peerId: torrent.peerId, reserved: torrent.reserved }));
  });
  // readHandshake resolves only after the info-hash callback accepted, so both are set.
  const connection = PeerConnection.fromHandshake(peer, infoHash!, torrent!.peerId, received, options);
  return { connection, torrent: torrent! };
}
