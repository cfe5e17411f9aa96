/**
 * The swarm's requests, against scripted remote peers over loopback: what it asks for, what it does with the
 * blocks that come back, and how a wrong-sized block, a choke, a stall and another peer's delivery end them.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Sha1Pool } from '../../src/hashing/index.js';
import { silentLogger } from '../../src/log/index.js';
import type { PeerConnection } from '../../src/peer/index.js';
import { PiecePicker } from '../../src/picker/index.js';
import { TokenBucket } from '../../src/ratelimit/index.js';
import type { PeerSession } from '../../src/session/peer-session.js';
import { PieceWriter, type BlockSource } from '../../src/session/piece-writer.js';
import { Swarm, type SwarmOptions } from '../../src/session/swarm.js';
import { TorrentStorage } from '../../src/storage/index.js';
import { BLOCK_SIZE, type WireMessage } from '../../src/wire/index.js';
import { until } from '../e2e/seed-harness.js';
import { closeError, connectedPair, newPeerId } from '../peer/helpers.js';
import { blockData, blocksOf, makeTorrent, tempDir, type Block, type TestTorrent } from '../storage/fixture.js';

const PIECE = 2 * BLOCK_SIZE;
/** Four pieces of two blocks: fewer blocks than a new peer's first batch of requests. */
const BLOCK_COUNT = 8;

interface Harness {
  tt: TestTorrent;
  picker: PiecePicker<BlockSource>;
  swarm: Swarm;
}

async function setUp(t: TestContext, options: Partial<SwarmOptions> = {}): Promise<Harness> {
  const tt = makeTorrent('swarm.bin', [{ path: ['swarm.bin'], length: BLOCK_COUNT * BLOCK_SIZE }], PIECE, 5);
  const hasher = new Sha1Pool({ threads: 1 });
  const storage = new TorrentStorage(tt.meta, await tempDir(t, 'swarm'), { hasher });
  const { pieceCount, pieceLength, totalLength } = tt.meta;
  const picker = new PiecePicker<BlockSource>({ pieceCount, pieceLength, totalLength });
  const writer = new PieceWriter(picker, storage, {
    verified: (piece) => swarm.pieceVerified(piece),
    failed: (piece, contributors) => swarm.pieceFailed(piece, contributors),
    liars: (sources) => swarm.banLiars(sources),
    fatal: (error) => assert.fail(error),
    backlogCleared: () => swarm.refillAll(),
  });
  const deps = {
    meta: tt.meta,
    peerId: newPeerId(),
    picker,
    writer,
    storage,
    logger: silentLogger,
    uploadLimit: new TokenBucket({ rate: 0 }),
    downloadLimit: new TokenBucket({ rate: 0 }),
  };
  const swarm: Swarm = new Swarm(deps, {
    maxPeers: 5,
    maxHalfOpen: 1,
    connectTimeoutMs: 1000,
    handshakeTimeoutMs: 1000,
    requestTimeoutMs: 30_000,
    maxServedRequest: 128 * 1024,
    maxQueuedRequests: 100,
    maxStrikes: 3,
    uploadSlots: 4,
    clientName: 'swarm test',
    now: Date.now,
    ...options,
  });
  swarm.start();
  t.after(async () => {
    swarm.stop();
    await writer.drain();
    await storage.close();
    await hasher.close();
  });
  return { tt, picker, swarm };
}

interface Remote {
  conn: PeerConnection;
  /** The swarm's side of the connection. */
  local: PeerConnection;
  session: PeerSession;
  requests: Block[];
  cancels: Block[];
  /** Sends the torrent's data for `block`, or `length` bytes of it. */
  send(block: Block, length?: number): void;
}

/** A remote peer with every piece that unchokes the swarm as soon as it is interested, and answers nothing. */
async function connectSeed(t: TestContext, h: Harness): Promise<Remote> {
  const pair = await connectedPair({ start: false });
  t.after(() => pair.close());
  const remote: Remote = {
    conn: pair.client,
    local: pair.server,
    session: undefined as unknown as PeerSession,
    requests: [],
    cancels: [],
    send: (block, length = block.length) => pair.client.sendPiece(block.piece, block.begin, blockData(h.tt, block).subarray(0, length)),
  };
  pair.client.on('message', (m: WireMessage) => {
    if (m.type === 'interested') pair.client.unchoke();
    else if (m.type === 'request') remote.requests.push({ piece: m.index, begin: m.begin, length: m.length });
    else if (m.type === 'cancel') remote.cancels.push({ piece: m.index, begin: m.begin, length: m.length });
  });
  const before = new Set(h.swarm.peers);
  h.swarm.addIncoming(pair.server);
  remote.session = [...h.swarm.peers].find((p) => !before.has(p))!;
  pair.client.start();
  pair.client.bitfield(new Uint8Array([0xf0]));
  return remote;
}

const key = (b: Block) => `${b.piece}/${b.begin}/${b.length}`;
const keys = (blocks: Block[]) => blocks.map(key).sort();

test('every block is requested once the peer unchokes us, and what it sends completes the download', async (t) => {
  const h = await setUp(t);
  const remote = await connectSeed(t, h);
  await until(() => remote.requests.length === BLOCK_COUNT, 5000, () => `${BLOCK_COUNT} requests, got ${remote.requests.length}`);
  assert.deepEqual(keys(remote.requests), keys(blocksOf(h.tt.meta, BLOCK_SIZE)));
  assert.equal(h.picker.outstandingCount(remote.session), BLOCK_COUNT);
  for (const block of remote.requests) remote.send(block);
  await until(() => h.picker.isComplete, 5000, () => `the download to complete, ${h.picker.missingCount} pieces missing`);
  assert.equal(h.picker.outstandingCount(remote.session), 0);
  assert.equal(remote.session.unsolicited, 0);
});

test('a block of another size than its request closes the connection, and its requests go back to the pool', async (t) => {
  const h = await setUp(t);
  const remote = await connectSeed(t, h);
  await until(() => remote.requests.length === BLOCK_COUNT, 5000, () => `${BLOCK_COUNT} requests, got ${remote.requests.length}`);
  const closed = closeError(remote.local);
  remote.send(remote.requests[0], BLOCK_SIZE - 1);
  assert.match((await closed)?.message ?? '', new RegExp(`sent a block of ${BLOCK_SIZE - 1} bytes for a request of ${BLOCK_SIZE}`));
  assert.equal(h.picker.outstandingCount(remote.session), 0);
  assert.equal(h.picker.inEndgame, false, 'every block is free again');
});

test('a choke withdraws every request; a late block is still good data, and only the rest is asked for again', async (t) => {
  const h = await setUp(t);
  const remote = await connectSeed(t, h);
  await until(() => remote.requests.length === BLOCK_COUNT, 5000, () => `${BLOCK_COUNT} requests, got ${remote.requests.length}`);
  const asked = remote.requests.splice(0);
  remote.conn.choke();
  await until(() => h.picker.outstandingCount(remote.session) === 0, 5000, () => 'the choke to withdraw the requests');
  remote.send(asked[0]);
  await until(() => remote.session.unsolicited === 1, 5000, () => 'the late block');
  remote.conn.unchoke();
  await until(() => remote.requests.length === BLOCK_COUNT - 1, 5000, () => `${BLOCK_COUNT - 1} requests, got ${remote.requests.length}`);
  assert.deepEqual(keys(remote.requests), keys(asked.slice(1)));
  for (const block of remote.requests) remote.send(block);
  await until(() => h.picker.isComplete, 5000, () => `the download to complete, ${h.picker.missingCount} pieces missing`);
});

test('a peer that sends nothing for the request timeout is sent a CANCEL for every request, then asked for one block', async (t) => {
  const h = await setUp(t, { requestTimeoutMs: 200 });
  const remote = await connectSeed(t, h);
  await until(() => remote.requests.length === BLOCK_COUNT, 5000, () => `${BLOCK_COUNT} requests, got ${remote.requests.length}`);
  const asked = remote.requests.splice(0);
  await until(() => remote.cancels.length === BLOCK_COUNT, 5000, () => `${BLOCK_COUNT} cancels, got ${remote.cancels.length}`);
  assert.deepEqual(keys(remote.cancels), keys(asked));
  assert.ok(remote.session.snubbed);
  await until(() => remote.requests.length === 1, 5000, () => 'a request after the cancels');
  assert.equal(h.picker.outstandingCount(remote.session), 1);
});

test('in endgame, the block one peer delivers is cancelled with the other peer that was asked for it', async (t) => {
  const h = await setUp(t);
  const first = await connectSeed(t, h);
  await until(() => first.requests.length === BLOCK_COUNT, 5000, () => `${BLOCK_COUNT} requests to the first peer`);
  const second = await connectSeed(t, h);
  await until(() => second.requests.length === BLOCK_COUNT, 5000, () => `${BLOCK_COUNT} duplicate requests to the second peer`);
  assert.ok(h.picker.inEndgame);
  first.send(first.requests[0]);
  await until(() => second.cancels.length === 1, 5000, () => 'a cancel to the second peer');
  assert.deepEqual(second.cancels, [first.requests[0]]);
  assert.equal(first.cancels.length, 0, 'the peer that delivered is not sent a cancel');
  assert.equal(h.picker.outstandingCount(second.session), BLOCK_COUNT - 1);
});
