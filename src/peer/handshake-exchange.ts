/** Opening a TCP connection and reading the remote's BEP 3 handshake, with timeouts. */
import net from 'node:net';
import {
  HANDSHAKE_INFO_HASH_END,
  HANDSHAKE_LENGTH,
  WireProtocolError,
  checkHandshakeStart,
  decodeHandshake,
  type Handshake,
} from '../wire/index.js';
import { PeerConnectionError } from './errors.js';

/**
 * Every outgoing connection reads into this one buffer (net's `onread`): no allocation per read, and the bytes
 * are still in the CPU cache when they are decoded. It can be shared because a read is handed to its socket's
 * receiver synchronously, before any other socket reads. Reading 1 GiB the default way (a fresh 64 KiB buffer
 * per read, later collected) costs about three times the CPU.
 */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

/** Takes bytes received on a socket. They are valid only during the call: whoever keeps some copies them. */
export type ByteReceiver = (bytes: Uint8Array) => void;

/**
 * A TCP connection to a peer and the one place its received bytes go, replaced as the handshake hands over to
 * the message stream. Between two receivers the socket must be paused (readHandshake leaves it so), or bytes
 * would be dropped.
 */
export class PeerSocket {
  receiver: ByteReceiver | undefined;

  private constructor(readonly socket: net.Socket) {}

  /** An accepted connection: its 'data' chunks go to the receiver. */
  static accepted(socket: net.Socket): PeerSocket {
    const peer = new PeerSocket(socket);
    socket.on('data', (chunk: Buffer) => peer.receiver?.(chunk));
    return peer;
  }

  /** Resolves once connected, or rejects with 'connect-failed' / 'connect-timeout'. */
  static connect(host: string, port: number, timeoutMs: number): Promise<PeerSocket> {
    return new Promise((resolve, reject) => {
      let peer: PeerSocket | undefined;
      const onread = {
        buffer: SHARED_READ_BUFFER,
        callback: (length: number, buffer: Uint8Array) => {
          peer?.receiver?.(buffer.subarray(0, length));
          return true;
        },
      };
      const socket = net.connect({ host, port, onread });
      peer = new PeerSocket(socket);
      const fail = (error: PeerConnectionError) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new PeerConnectionError('connect-timeout', `connecting to ${host}:${port} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onError = (e: Error) =>
        fail(new PeerConnectionError('connect-failed', `cannot connect to ${host}:${port}: ${e.message}`, { cause: e }));
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(peer);
      });
    });
  }
}

export interface ReceivedHandshake {
  remote: Handshake;
  /** Bytes that arrived after the handshake in the same read (a copy): the start of the message stream. */
  rest: Uint8Array;
}

/**
 * Reads the remote's 68-byte handshake. `onInfoHash` runs as soon as the remote's info-hash is known
 * (byte 48), before its peer id: a listener serving many torrents answers with its own handshake there
 * (BEP 3 lets the recipient wait for the initiator's info-hash). It throws a PeerConnectionError to refuse.
 * On success the socket is left paused, with no receiver, so no message is lost before the caller sets its
 * own; on failure the socket is destroyed.
 */
export function readHandshake(
  peer: PeerSocket,
  timeoutMs: number,
  onInfoHash: (infoHash: Uint8Array) => void,
): Promise<ReceivedHandshake> {
  const { socket } = peer;
  return new Promise((resolve, reject) => {
    const received = new Uint8Array(HANDSHAKE_LENGTH);
    let filled = 0;
    let infoHashSeen = false;

    const cleanup = () => {
      clearTimeout(timer);
      peer.receiver = undefined;
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (error: PeerConnectionError) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onError = (e: Error) =>
      fail(new PeerConnectionError('socket-error', `connection failed during the handshake: ${e.message}`, { cause: e }));
    const onClose = () => fail(new PeerConnectionError('closed-by-peer', 'the peer closed the connection during the handshake'));
    const onData = (chunk: Uint8Array) => {
      const take = Math.min(HANDSHAKE_LENGTH - filled, chunk.length);
      received.set(chunk.subarray(0, take), filled);
      filled += take;
      try {
        checkHandshakeStart(received.subarray(0, filled));
        if (!infoHashSeen && filled >= HANDSHAKE_INFO_HASH_END) {
          infoHashSeen = true;
          onInfoHash(received.slice(HANDSHAKE_INFO_HASH_END - 20, HANDSHAKE_INFO_HASH_END));
        }
      } catch (e) {
        if (e instanceof PeerConnectionError) fail(e);
        else if (e instanceof WireProtocolError) fail(new PeerConnectionError('protocol', e.message, { cause: e }));
        else fail(new PeerConnectionError('handler-error', `handshake handler failed: ${String(e)}`, { cause: e }));
        return;
      }
      if (filled < HANDSHAKE_LENGTH) return;
      // Pause before detaching, so bytes after the handshake wait in the socket for the connection object.
      socket.pause();
      cleanup();
      resolve({ remote: decodeHandshake(received), rest: new Uint8Array(chunk.subarray(take)) });
    };
    const timer = setTimeout(
      () => fail(new PeerConnectionError('handshake-timeout', `the peer sent no complete handshake within ${timeoutMs} ms`)),
      timeoutMs,
    );
    if (socket.destroyed) {
      fail(new PeerConnectionError('closed-by-peer', 'the connection closed before the handshake'));
      return;
    }
    peer.receiver = onData;
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}
