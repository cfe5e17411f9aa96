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

/** Resolves with a connected socket, or rejects with 'connect-failed' / 'connect-timeout'. */
export function openSocket(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
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
      resolve(socket);
    });
  });
}

export interface ReceivedHandshake {
  remote: Handshake;
  /** Bytes that arrived after the handshake in the same chunk: the start of the message stream. */
  rest: Uint8Array;
}

/**
 * Reads the remote's 68-byte handshake. `onInfoHash` runs as soon as the remote's info-hash is known
 * (byte 48), before its peer id: a listener serving many torrents answers with its own handshake there
 * (BEP 3 lets the recipient wait for the initiator's info-hash). It throws a PeerConnectionError to refuse.
 * On success the socket is left paused so no message is lost before the caller attaches its listeners; on
 * failure the socket is destroyed.
 */
export function readHandshake(
  socket: net.Socket,
  timeoutMs: number,
  onInfoHash: (infoHash: Uint8Array) => void,
): Promise<ReceivedHandshake> {
  return new Promise((resolve, reject) => {
    const received = new Uint8Array(HANDSHAKE_LENGTH);
    let filled = 0;
    let infoHashSeen = false;

    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
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
    const onData = (chunk: Buffer) => {
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
      resolve({ remote: decodeHandshake(received), rest: chunk.subarray(take) });
    };
    const timer = setTimeout(
      () => fail(new PeerConnectionError('handshake-timeout', `the peer sent no complete handshake within ${timeoutMs} ms`)),
      timeoutMs,
    );
    if (socket.destroyed) {
      fail(new PeerConnectionError('closed-by-peer', 'the connection closed before the handshake'));
      return;
    }
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}
