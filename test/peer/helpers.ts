/** Loopback plumbing shared by the peer tests. */
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import {
  PeerConnection,
  PeerConnectionError,
  acceptHandshake,
  type AcceptOptions,
  type ConnectOptions,
  type PeerConnectionErrorCode,
} from '../../src/peer/index.js';
import type { WireMessage } from '../../src/wire/index.js';

export const newPeerId = (client = 'TS') => Buffer.concat([Buffer.from(`-${client}0001-`), randomBytes(12)]);

/**
 * Resolves with the next message of `type` (others are skipped); rejects if the connection closes first.
 * A piece block is copied: the connection's is valid only during its 'message' event.
 */
export function nextMessage<T extends WireMessage['type']>(
  conn: PeerConnection,
  type: T,
): Promise<Extract<WireMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: WireMessage) => {
      if (m.type !== type) return;
      conn.off('message', onMessage);
      conn.off('close', onClose);
      const kept = m.type === 'piece' ? { ...m, block: new Uint8Array(m.block) } : m;
      resolve(kept as Extract<WireMessage, { type: T }>);
    };
    const onClose = (e: PeerConnectionError | undefined) => reject(new Error(`closed while waiting for ${type}`, { cause: e }));
    conn.on('message', onMessage);
    conn.once('close', onClose);
  });
}

/** Resolves with the error a connection closes with. */
export async function closeError(conn: PeerConnection): Promise<PeerConnectionError | undefined> {
  const [error] = (await once(conn, 'close')) as [PeerConnectionError | undefined];
  return error;
}

/** Asserts a promise rejects with a PeerConnectionError of one of `codes`, returning it. */
export async function rejectsWith(promise: Promise<unknown>, ...codes: PeerConnectionErrorCode[]): Promise<PeerConnectionError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof PeerConnectionError && codes.includes(e.code)) return e;
    throw new Error(`expected a PeerConnectionError ${codes.join('|')}, got ${String(e)}`, { cause: e });
  }
  throw new Error(`expected a PeerConnectionError ${codes.join('|')}, but it resolved`);
}

export interface Listener {
  port: number;
  /** Accepted sockets, in order. */
  sockets: AsyncIterator<net.Socket>;
  close(): Promise<void>;
}

/** A TCP listener on 127.0.0.1 (ephemeral port) that hands accepted sockets to the test. */
export async function listen(): Promise<Listener> {
  const server = net.createServer();
  const open = new Set<net.Socket>();
  const queue: net.Socket[] = [];
  const waiters: ((s: net.Socket) => void)[] = [];
  server.on('connection', (s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    const waiter = waiters.shift();
    if (waiter) waiter(s);
    else queue.push(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets: {
      next: () =>
        new Promise((resolve) => {
          const s = queue.shift();
          if (s) resolve({ value: s, done: false });
          else waiters.push((value) => resolve({ value, done: false }));
        }),
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A client and server PeerConnection joined over loopback, both started unless `start` is false. */
export async function connectedPair(
  options: { client?: Partial<ConnectOptions>; server?: AcceptOptions; start?: boolean } = {},
): Promise<{ client: PeerConnection; server: PeerConnection; infoHash: Buffer; close(): Promise<void> }> {
  const listener = await listen();
  const infoHash = randomBytes(20);
  const serverPeerId = newPeerId('SV');
  const accepted = listener.sockets
    .next()
    .then(({ value }) => acceptHandshake(value, (ih) => (Buffer.from(ih).equals(infoHash) ? { peerId: serverPeerId } : undefined), options.server));
  const client = await PeerConnection.connect({
    host: '127.0.0.1',
    port: listener.port,
    infoHash,
    peerId: newPeerId(),
    ...options.client,
  });
  const { connection: server } = await accepted;
  if (options.start !== false) {
    client.start();
    server.start();
  }
  return {
    client,
    server,
    infoHash,
    close: async () => {
      client.destroy();
      server.destroy();
      await listener.close();
    },
  };
}
