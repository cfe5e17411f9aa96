import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PeerConnection, PeerConnectionError, acceptHandshake } from '../../src/peer/index.js';
import { BLOCK_SIZE, WireProtocolError, type WireMessage } from '../../src/wire/index.js';
import { startEvilPeer, type EvilPeerMode } from '../support/evil-peer.js';
import { DEBIAN_PYTHON, commandWorks, requireProgram } from '../support/interop.js';
import { closeError, connectedPair, listen, newPeerId, nextMessage, rejectsWith } from './helpers.js';

const PIECE_LENGTH = 2 * BLOCK_SIZE;
/** 3 pieces: two full, one of a block and a half. */
const DATA = randomBytes(2 * PIECE_LENGTH + BLOCK_SIZE + BLOCK_SIZE / 2);
const INFO_HASH = randomBytes(20);
/** Every test here talks over loopback; a hang must fail, not stall the suite. */
const LOOPBACK = { timeout: 15_000 };

async function evilPeer(t: TestContext, mode: EvilPeerMode, corruptPieces: number[] = []) {
  const peer = await startEvilPeer({ infoHash: INFO_HASH, data: DATA, pieceLength: PIECE_LENGTH, mode, corruptPieces });
  t.after(() => peer.close());
  return peer;
}

function connectTo(port: number, extra: Partial<Parameters<typeof PeerConnection.connect>[0]> = {}) {
  return PeerConnection.connect({ host: '127.0.0.1', port, infoHash: INFO_HASH, peerId: newPeerId(), ...extra });
}

test('connect and acceptHandshake exchange handshakes, flags and blocks both ways', LOOPBACK, async (t) => {
  const pair = await connectedPair();
  t.after(() => pair.close());
  const { client, server } = pair;
  assert.deepEqual(Buffer.from(client.remotePeerId).subarray(0, 8).toString(), '-SV0001-');
  assert.deepEqual(Buffer.from(server.remotePeerId), Buffer.from(client.localPeerId));
  assert.deepEqual(Buffer.from(server.infoHash), pair.infoHash);
  assert.equal(client.supportsExtensions, true);
  assert.equal(server.supportsExtensions, true);
  assert.deepEqual(
    [client.amChoking, client.amInterested, client.peerChoking, client.peerInterested],
    [true, false, true, false],
    'BEP 3 initial state',
  );

  const seen: WireMessage['type'][] = [];
  server.on('message', (m) => seen.push(m.type));
  client.interested();
  client.interested(); // no change, nothing sent
  client.have(1);
  await nextMessage(server, 'have');
  assert.deepEqual(seen, ['interested', 'have']);
  assert.equal(server.peerInterested, true);
  assert.equal(client.amInterested, true);

  server.unchoke();
  await nextMessage(client, 'unchoke');
  assert.equal(client.peerChoking, false);
  assert.equal(server.amChoking, false);

  const block = randomBytes(BLOCK_SIZE);
  const request = nextMessage(server, 'request');
  client.request(4, BLOCK_SIZE, BLOCK_SIZE);
  assert.deepEqual({ ...(await request) }, { type: 'request', index: 4, begin: BLOCK_SIZE, length: BLOCK_SIZE });
  const piece = nextMessage(client, 'piece');
  server.sendPiece(4, BLOCK_SIZE, block);
  const received = await piece;
  assert.deepEqual([received.index, received.begin], [4, BLOCK_SIZE]);
  assert.ok(Buffer.from(received.block).equals(block));
  assert.equal(client.downloadedBytes, BLOCK_SIZE);
  assert.equal(server.uploadedBytes, BLOCK_SIZE);

  const cancel = nextMessage(server, 'cancel');
  client.cancel(4, 0, 10);
  assert.deepEqual({ ...(await cancel) }, { type: 'cancel', index: 4, begin: 0, length: 10 });
  const extended = nextMessage(client, 'extended');
  server.extended(0, Buffer.from('de'));
  assert.equal(Buffer.from((await extended).payload).toString(), 'de');

  server.choke();
  client.notInterested();
  await nextMessage(client, 'choke');
  await nextMessage(server, 'notInterested');
  assert.equal(client.peerChoking, true);
  assert.equal(server.peerInterested, false);
});

test('messages that arrive with the handshake wait for start()', LOOPBACK, async (t) => {
  const peer = await evilPeer(t, 'serve');
  const conn = await connectTo(peer.port);
  t.after(() => conn.destroy());
  await sleep(100); // the bitfield is certainly here by now
  const first = new Promise<WireMessage>((resolve) => conn.once('message', resolve));
  conn.start();
  const m = await first;
  assert.equal(m.type, 'bitfield');
  assert.equal(Buffer.from((m as { bytes: Uint8Array }).bytes).toString('hex'), 'e0');
});

test('blocks downloaded from the evil peer match its data, and corrupt pieces differ', LOOPBACK, async (t) => {
  const peer = await evilPeer(t, 'serve', [1]);
  const conn = await connectTo(peer.port, { pieceCount: 3 });
  t.after(() => conn.destroy());
  const bitfield = nextMessage(conn, 'bitfield');
  conn.start();
  await bitfield;
  const unchoke = nextMessage(conn, 'unchoke');
  conn.interested();
  await unchoke;
  const blocks: [number, number, number][] = [
    [0, 0, BLOCK_SIZE],
    [0, BLOCK_SIZE, BLOCK_SIZE],
    [1, 0, BLOCK_SIZE],
    [2, BLOCK_SIZE, BLOCK_SIZE / 2],
  ];
  for (const [index, begin, length] of blocks) {
    const piece = nextMessage(conn, 'piece');
    conn.request(index, begin, length);
    const { block } = await piece;
    const expected = DATA.subarray(index * PIECE_LENGTH + begin, index * PIECE_LENGTH + begin + length);
    assert.equal(Buffer.from(block).equals(expected), index !== 1, `piece ${index} block at ${begin}`);
  }
  assert.equal(peer.stats.corruptBlocksServed, 1);
  assert.equal(conn.downloadedBytes, 3.5 * BLOCK_SIZE);
});

test('a peer answering for another torrent is refused', LOOPBACK, async (t) => {
  const peer = await evilPeer(t, 'wrong-info-hash');
  await rejectsWith(connectTo(peer.port), 'info-hash-mismatch');
});

test('a peer answering with something that is not a handshake is refused', LOOPBACK, async (t) => {
  const peer = await evilPeer(t, 'garbage');
  const error = await rejectsWith(connectTo(peer.port), 'protocol');
  assert.ok(error.cause instanceof WireProtocolError);
});

test('a 4 GB length prefix closes the connection at once', LOOPBACK, async (t) => {
  const peer = await evilPeer(t, 'oversized');
  const conn = await connectTo(peer.port);
  const closed = closeError(conn);
  conn.start();
  const error = await closed;
  assert.equal(error?.code, 'protocol');
  assert.ok(error.cause instanceof WireProtocolError);
  assert.match(error.message, /message length 4294967295 exceeds/);
  assert.equal(conn.closed, true);
});

test('a silent peer hits the handshake timeout', LOOPBACK, async (t) => {
  const peer = await evilPeer(t, 'silent');
  await rejectsWith(connectTo(peer.port, { handshakeTimeoutMs: 200 }), 'handshake-timeout');
  assert.equal(peer.stats.connections, 1);
});

test('a closed port fails to connect', LOOPBACK, async () => {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  const error = await rejectsWith(connectTo(port), 'connect-failed');
  assert.equal((error.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
});

/** A python listener (backlog 0, never accepting, queue pre-filled) makes the kernel drop further SYNs. */
const FULL_BACKLOG_LISTENER = `
import socket, sys
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
port = s.getsockname()[1]
fillers = []
for _ in range(3):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(('127.0.0.1', port))
    except BlockingIOError: pass
    fillers.append(c)
print(port, flush=True)
sys.stdin.read()
`;

test(
  'a connection the listener never completes hits the connect timeout',
  { ...LOOPBACK, skip: requireProgram('python3', commandWorks(DEBIAN_PYTHON, ['-c', 'import socket']), 'apt-get install python3') },
  async (t) => {
    const child = spawn(DEBIAN_PYTHON, ['-c', FULL_BACKLOG_LISTENER], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.after(() => child.kill('SIGKILL'));
    const [line] = (await once(child.stdout!.setEncoding('utf8'), 'data')) as [string];
    await rejectsWith(connectTo(Number(line.trim()), { connectTimeoutMs: 300 }), 'connect-timeout');
  },
);

test('a peer that goes silent after the handshake hits the idle timeout', LOOPBACK, async (t) => {
  const peer = await evilPeer(t, 'stall');
  const conn = await connectTo(peer.port, { idleTimeoutMs: 300 });
  const closed = closeError(conn);
  conn.start();
  assert.equal((await closed)?.code, 'idle-timeout');
});

test('keep-alives are sent after write silence, keeping the other side from its idle timeout', LOOPBACK, async (t) => {
  const pair = await connectedPair({ client: { keepAliveIntervalMs: 40 }, server: { idleTimeoutMs: 400 } });
  t.after(() => pair.close());
  // 15 keep-alives span well over the server's idle timeout; it must still be open after them.
  for (let i = 0; i < 15; i++) await nextMessage(pair.server, 'keepalive');
  assert.equal(pair.server.closed, false);
});

test('a bitfield of the wrong size for the piece count closes the connection', LOOPBACK, async (t) => {
  const peer = await evilPeer(t, 'serve');
  for (const [pieceCount, why] of [
    [20, /bitfield of 1 bytes, expected 3/],
    [2, /spare bits/],
  ] as const) {
    const conn = await connectTo(peer.port);
    conn.setPieceCount(pieceCount);
    const closed = closeError(conn);
    conn.start();
    const error = await closed;
    assert.equal(error?.code, 'protocol');
    assert.match(error.message, why);
  }
});

test('have beyond the piece count closes the connection; a later bitfield is delivered (aria2 sends one)', LOOPBACK, async (t) => {
  const pair = await connectedPair({ client: { pieceCount: 5 } });
  t.after(() => pair.close());
  const closed = closeError(pair.client);
  pair.server.have(4);
  pair.server.have(5);
  const error = await closed;
  assert.equal(error?.code, 'protocol');
  assert.match(error.message, /have for piece 5, but the torrent has 5 pieces/);

  const late = await connectedPair();
  t.after(() => late.close());
  const lateBitfield = nextMessage(late.client, 'bitfield');
  late.server.have(0);
  late.server.bitfield(Uint8Array.of(0xc0));
  assert.deepEqual([...(await lateBitfield).bytes], [0xc0]);
  assert.equal(late.client.closed, false);
});

test('acceptHandshake refuses a torrent the lookup does not know', LOOPBACK, async (t) => {
  const listener = await listen();
  t.after(() => listener.close());
  const accepted = listener.sockets.next().then(({ value }) => acceptHandshake(value, () => undefined));
  await Promise.all([
    rejectsWith(accepted, 'unknown-info-hash'),
    rejectsWith(connectTo(listener.port), 'closed-by-peer', 'socket-error'),
  ]);
});

test('connecting to ourselves is detected on both ends', LOOPBACK, async (t) => {
  const listener = await listen();
  t.after(() => listener.close());
  const peerId = newPeerId();
  const accepted = listener.sockets.next().then(({ value }) => acceptHandshake(value, () => ({ peerId })));
  await Promise.all([rejectsWith(connectTo(listener.port, { peerId }), 'self-connection'), rejectsWith(accepted, 'self-connection')]);
});

test('a throwing listener closes the connection instead of escaping', LOOPBACK, async (t) => {
  const pair = await connectedPair();
  t.after(() => pair.close());
  pair.client.on('message', () => {
    throw new Error('session bug');
  });
  const closed = closeError(pair.client);
  pair.server.unchoke();
  const error = await closed;
  assert.equal(error?.code, 'handler-error');
  assert.equal((error.cause as Error).message, 'session bug');
});

test('destroy() from a message listener stops delivery; sends after it are ignored', LOOPBACK, async (t) => {
  const pair = await connectedPair();
  t.after(() => pair.close());
  const seen: string[] = [];
  pair.client.on('message', (m) => {
    seen.push(m.type);
    pair.client.destroy();
    pair.client.request(0, 0, 1);
  });
  const closed = closeError(pair.client);
  pair.server.unchoke();
  pair.server.have(3);
  assert.equal(await closed, undefined);
  assert.deepEqual(seen, ['unchoke']);
  assert.equal((await closeError(pair.server))?.code, 'closed-by-peer');
});

test('destroy(reason) closes with a destroyed error carrying the reason', LOOPBACK, async (t) => {
  const pair = await connectedPair();
  t.after(() => pair.close());
  const closed = closeError(pair.client);
  pair.client.destroy('hash check failed too often');
  const error = await closed;
  assert.ok(error instanceof PeerConnectionError);
  assert.deepEqual([error.code, error.message], ['destroyed', 'hash check failed too often']);
});

test('a close that happens before start() is reported by start()', LOOPBACK, async (t) => {
  const listener = await listen();
  t.after(() => listener.close());
  const infoHash = randomBytes(20);
  const accepted = listener.sockets.next().then(({ value }) => acceptHandshake(value, () => ({ peerId: newPeerId('SV') })));
  const client = await PeerConnection.connect({ host: '127.0.0.1', port: listener.port, infoHash, peerId: newPeerId() });
  const { connection: server } = await accepted;
  client.destroy('not wanted');
  const closed = closeError(client);
  client.start();
  assert.equal((await closed)?.code, 'destroyed');
  server.destroy();
});

test('writes to a peer that does not read report backpressure, then drain, and each sent block is reported', LOOPBACK, async (t) => {
  const pair = await connectedPair({ start: false });
  t.after(() => pair.close());
  pair.server.start(); // the client stays paused, so the kernel buffers fill up
  const block = randomBytes(BLOCK_SIZE);
  let sent = 0;
  let reported = 0;
  // Blocks of one tick leave together when the tick ends; after that, what is still queued is backpressure.
  for (; sent < 4096; sent++) {
    pair.server.sendPiece(0, 0, block, () => reported++);
    await new Promise(setImmediate);
    if (pair.server.bufferedAmount > 0) break;
  }
  assert.ok(pair.server.bufferedAmount > 0, `no backpressure after ${sent} blocks`);
  assert.ok(reported < sent + 1, 'a queued block is not reported as sent');
  const drained = once(pair.server, 'drain');
  pair.client.start();
  await drained;
  assert.equal(pair.server.bufferedAmount, 0);
  assert.equal(reported, sent + 1);
  assert.equal(pair.server.uploadedBytes, (sent + 1) * BLOCK_SIZE);
});
