/** PeerConnection against real python3-libtorrent peers on loopback, in both directions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type net from 'node:net';
import path from 'node:path';
import { PeerConnection, acceptHandshake } from '../../src/peer/index.js';
import { BLOCK_SIZE } from '../../src/wire/index.js';
import { needLibtorrent } from '../support/interop.js';
import { startLibtorrentDownloader, startLibtorrentSeeder } from '../support/libtorrent.js';
import { closeError, listen, newPeerId, nextMessage, rejectsWith } from './helpers.js';
import { makeTestTorrent } from './torrent-fixture.js';

const PIECE_LENGTH = 2 * BLOCK_SIZE;
/** 4 pieces; the last one holds a block and a half. */
const SIZE = 3 * PIECE_LENGTH + BLOCK_SIZE + 1000;

test('download blocks from a libtorrent seeder', { skip: needLibtorrent(), timeout: 60_000 }, async (t) => {
  const torrent = await makeTestTorrent(SIZE, PIECE_LENGTH);
  t.after(() => torrent.cleanup());
  const seeder = await startLibtorrentSeeder(torrent.torrentPath, torrent.dataDir);
  t.after(() => seeder.stop());

  const conn = await PeerConnection.connect({
    host: '127.0.0.1',
    port: seeder.port,
    infoHash: torrent.infoHash,
    peerId: newPeerId(),
    pieceCount: torrent.pieceCount,
  });
  t.after(() => conn.destroy());
  assert.equal(Buffer.from(conn.remotePeerId).subarray(0, 3).toString(), '-LT');
  assert.equal(conn.supportsExtensions, true);

  const bitfield = nextMessage(conn, 'bitfield');
  conn.start();
  assert.equal(Buffer.from((await bitfield).bytes).toString('hex'), 'f0', 'a seeder of 4 pieces has them all');

  const unchoke = nextMessage(conn, 'unchoke');
  conn.interested();
  await unchoke;
  assert.equal(conn.peerChoking, false);

  const wanted: [number, number, number][] = [
    [0, 0, BLOCK_SIZE],
    [1, BLOCK_SIZE, BLOCK_SIZE],
    [3, 0, BLOCK_SIZE],
    [3, BLOCK_SIZE, 1000], // the torrent's last, short block
  ];
  const received = new Map<string, Uint8Array>();
  const allArrived = new Promise<void>((resolve) => {
    conn.on('message', (m) => {
      if (m.type !== 'piece') return;
      received.set(`${m.index}/${m.begin}`, new Uint8Array(m.block)); // valid only during the event
      if (received.size === wanted.length) resolve();
    });
  });
  // Pipelined, as a real downloader does.
  for (const [index, begin, length] of wanted) conn.request(index, begin, length);
  await allArrived;
  for (const [index, begin, length] of wanted) {
    const start = index * PIECE_LENGTH + begin;
    const block = received.get(`${index}/${begin}`);
    assert.ok(block && Buffer.from(block).equals(torrent.data.subarray(start, start + length)), `block ${index}/${begin}`);
  }
  assert.equal(conn.downloadedBytes, 3 * BLOCK_SIZE + 1000);
});

test('a libtorrent seeder refuses a torrent it does not have', { skip: needLibtorrent(), timeout: 60_000 }, async (t) => {
  const torrent = await makeTestTorrent(PIECE_LENGTH, PIECE_LENGTH);
  t.after(() => torrent.cleanup());
  const seeder = await startLibtorrentSeeder(torrent.torrentPath, torrent.dataDir);
  t.after(() => seeder.stop());
  const connecting = PeerConnection.connect({ host: '127.0.0.1', port: seeder.port, infoHash: randomBytes(20), peerId: newPeerId() });
  await rejectsWith(connecting, 'closed-by-peer', 'socket-error');
});

test('a libtorrent downloader fetches the whole torrent from our accepted connections', { skip: needLibtorrent(), timeout: 90_000 }, async (t) => {
  const torrent = await makeTestTorrent(SIZE, PIECE_LENGTH);
  t.after(() => torrent.cleanup());
  const listener = await listen();
  t.after(() => listener.close());
  const ourPeerId = newPeerId();
  const fullBitfield = Uint8Array.of(0xf0);
  let served = 0;

  // A minimal seeder: every accepted connection gets a full bitfield, is unchoked when interested and
  // has its requests answered from the data.
  const connections = new Set<PeerConnection>();
  t.after(() => connections.forEach((c) => c.destroy()));
  const serveConnection = async (socket: net.Socket) => {
    const { connection } = await acceptHandshake(socket, (ih) =>
      Buffer.from(ih).equals(torrent.infoHash) ? { peerId: ourPeerId } : undefined,
    );
    connections.add(connection);
    connection.setPieceCount(torrent.pieceCount);
    connection.on('message', (m) => {
      if (m.type === 'interested') connection.unchoke();
      if (m.type === 'request') {
        const start = m.index * PIECE_LENGTH + m.begin;
        connection.sendPiece(m.index, m.begin, torrent.data.subarray(start, start + m.length));
        served++;
      }
    });
    connection.bitfield(fullBitfield);
    connection.start();
  };
  void (async () => {
    for (;;) {
      const { value: socket } = await listener.sockets.next();
      serveConnection(socket).catch(() => {}); // a refused handshake only loses that connection
    }
  })();

  const downloadDir = path.join(torrent.root, 'download');
  const downloader = startLibtorrentDownloader(torrent.torrentPath, downloadDir, { peers: [`127.0.0.1:${listener.port}`] });
  t.after(() => downloader.stop());
  await downloader.done;
  const downloaded = await readFile(path.join(downloadDir, torrent.name));
  assert.ok(downloaded.equals(torrent.data), 'libtorrent verified every piece and wrote our bytes');
  assert.ok(served >= Math.ceil(SIZE / BLOCK_SIZE), `served ${served} blocks`);
});

test('a libtorrent peer that closes is reported as closed-by-peer', { skip: needLibtorrent(), timeout: 60_000 }, async (t) => {
  const torrent = await makeTestTorrent(PIECE_LENGTH, PIECE_LENGTH);
  t.after(() => torrent.cleanup());
  const seeder = await startLibtorrentSeeder(torrent.torrentPath, torrent.dataDir);
  t.after(() => seeder.stop());
  const conn = await PeerConnection.connect({ host: '127.0.0.1', port: seeder.port, infoHash: torrent.infoHash, peerId: newPeerId() });
  const closed = closeError(conn);
  conn.start();
  await nextMessage(conn, 'bitfield');
  await seeder.stop();
  assert.ok(['closed-by-peer', 'socket-error'].includes((await closed)?.code ?? ''));
});
