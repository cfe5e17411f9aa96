/**
 * A small controllable seeder for tests, built on src/wire: it serves `data` to peers that connect to it
 * on 127.0.0.1, or misbehaves in one chosen way. Each accepted connection waits for the remote's
 * handshake, then acts according to `mode`:
 *
 *   serve            handshake, full bitfield, unchoke on interested, answer requests (flipping one byte
 *                    of every block that belongs to `corruptPieces`)
 *   stall            like serve, but never answers a request
 *   silent           accepts the TCP connection and never sends anything (not even a handshake)
 *   garbage          answers the handshake with bytes that are not a BitTorrent handshake
 *   oversized        valid handshake, then a 0xFFFFFFFF length prefix (a "4 GB message") and nothing more
 *   wrong-info-hash  answers with a handshake for a different torrent
 *
 * With `requestQueueLimit` it also sends a BEP 10 extension handshake saying so (reqq); the one the client
 * sends is kept in `stats`.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  BLOCK_SIZE,
  EXTENSION_HANDSHAKE_ID,
  FrameDecoder,
  HANDSHAKE_LENGTH,
  decodeExtensionHandshake,
  decodeHandshake,
  encodeExtensionHandshake,
  encodeHandshake,
  encodeMessage,
  type ExtensionHandshake,
  type WireMessage,
} from '../../src/wire/index.js';

export type EvilPeerMode = 'serve' | 'stall' | 'silent' | 'garbage' | 'oversized' | 'wrong-info-hash';

export interface EvilPeerOptions {
  infoHash: Uint8Array;
  /** The torrent's whole content. */
  data: Uint8Array;
  pieceLength: number;
  mode?: EvilPeerMode;
  /** Pieces whose blocks are served with one byte flipped (serve mode). */
  corruptPieces?: Iterable<number>;
  peerId?: Uint8Array;
  /** Sent as `reqq` in an extension handshake after the bitfield. */
  requestQueueLimit?: number;
}

export interface EvilPeerStats {
  connections: number;
  /** Remote handshakes received with our info-hash. */
  handshakes: number;
  requests: number;
  blocksServed: number;
  corruptBlocksServed: number;
  /** The client's BEP 10 extension handshake, once received. */
  extensionHandshake?: ExtensionHandshake;
}

export interface EvilPeer {
  port: number;
  stats: EvilPeerStats;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

/** The largest block this peer serves; bigger requests close the connection, as most clients do. */
const MAX_REQUEST_LENGTH = BLOCK_SIZE * 2;

export async function startEvilPeer(options: EvilPeerOptions): Promise<EvilPeer> {
  const { infoHash, data, pieceLength } = options;
  const mode = options.mode ?? 'serve';
  const corrupt = new Set(options.corruptPieces ?? []);
  const peerId = options.peerId ?? Buffer.concat([Buffer.from('-EV0001-'), randomBytes(12)]);
  const pieceCount = Math.ceil(data.length / pieceLength);
  const stats: EvilPeerStats = { connections: 0, handshakes: 0, requests: 0, blocksServed: 0, corruptBlocksServed: 0 };
  const sockets = new Set<net.Socket>();

  const fullBitfield = new Uint8Array(Math.ceil(pieceCount / 8));
  for (let i = 0; i < pieceCount; i++) fullBitfield[i >> 3] |= 0x80 >> (i & 7);

  const send = (socket: net.Socket, m: WireMessage) => socket.write(encodeMessage(m));

  const answerRequest = (socket: net.Socket, index: number, begin: number, length: number) => {
    stats.requests++;
    const start = index * pieceLength + begin;
    const pieceEnd = Math.min((index + 1) * pieceLength, data.length);
    if (index >= pieceCount || length === 0 || length > MAX_REQUEST_LENGTH || start + length > pieceEnd) {
      socket.destroy();
      return;
    }
    if (mode === 'stall') return;
    const block = Buffer.from(data.subarray(start, start + length));
    if (corrupt.has(index)) {
      block[0] ^= 0xff;
      stats.corruptBlocksServed++;
    }
    stats.blocksServed++;
    send(socket, { type: 'piece', index, begin, block });
  };

  const onMessage = (socket: net.Socket, m: WireMessage) => {
    if (m.type === 'interested') send(socket, { type: 'unchoke' });
    else if (m.type === 'request') answerRequest(socket, m.index, m.begin, m.length);
    else if (m.type === 'extended' && m.id === EXTENSION_HANDSHAKE_ID) stats.extensionHandshake = decodeExtensionHandshake(m.payload);
  };

  const onHandshake = (socket: net.Socket) => {
    stats.handshakes++;
    if (mode === 'garbage') {
      socket.write(Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
      return;
    }
    const answeredHash = mode === 'wrong-info-hash' ? Uint8Array.from(infoHash, (b) => b ^ 0xff) : infoHash;
    socket.write(encodeHandshake({ infoHash: answeredHash, peerId }));
    if (mode === 'oversized') {
      socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
      return;
    }
    if (mode === 'wrong-info-hash') return;
    send(socket, { type: 'bitfield', bytes: fullBitfield });
    if (options.requestQueueLimit !== undefined) {
      const payload = encodeExtensionHandshake({ extensions: new Map(), requestQueueLimit: options.requestQueueLimit });
      send(socket, { type: 'extended', id: EXTENSION_HANDSHAKE_ID, payload });
    }
  };

  const server = net.createServer((socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (mode === 'silent') return;
    let handshake = Buffer.alloc(0);
    const decoder = new FrameDecoder({ maxBlockLength: 0 });
    socket.on('data', (chunk: Buffer) => {
      try {
        if (handshake.length < HANDSHAKE_LENGTH) {
          handshake = Buffer.concat([handshake, chunk]);
          if (handshake.length < HANDSHAKE_LENGTH) return;
          const remote = decodeHandshake(handshake);
          if (!Buffer.from(remote.infoHash).equals(infoHash)) {
            socket.destroy();
            return;
          }
          onHandshake(socket);
          chunk = handshake.subarray(HANDSHAKE_LENGTH);
        }
        decoder.push(chunk);
        for (let m = decoder.next(); m !== undefined && !socket.destroyed; m = decoder.next()) onMessage(socket, m);
      } catch {
        socket.destroy(); // a malformed stream from the client under test: just hang up
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
