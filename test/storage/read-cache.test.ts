import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedBuffers } from '../../src/hashing/index.js';
import { PieceReadCache, TorrentStorage } from '../../src/storage/index.js';
import { makeTorrent, tempDir } from './fixture.js';

test('read cache answers blocks from whole pieces and stays within its budget', async (t) => {
  const dir = await tempDir(t);
  const { meta, data } = makeTorrent('cache', [{ path: ['cache', 'a'], length: 100_000 }, { path: ['cache', 'b'], length: 60_000 }], 32_768);
  const storage = new TorrentStorage(meta, dir);
  t.after(() => storage.close());
  for (let p = 0; p < meta.pieceCount; p++) {
    const begin = p * meta.pieceLength;
    await storage.writeBlock(p, 0, data.subarray(begin, Math.min(begin + meta.pieceLength, data.length)));
    assert.ok(await storage.finishPiece(p));
  }
  const size = (p: number) => Math.min(meta.pieceLength, meta.totalLength - p * meta.pieceLength);
  let wholeReads = 0;
  const counting = Object.create(storage, {
    readBlockInto: {
      value: (piece: number, begin: number, out: Buffer) => {
        if (begin === 0 && out.length === size(piece)) wholeReads++;
        return storage.readBlockInto(piece, begin, out);
      },
    },
  }) as TorrentStorage;
  // Budget for two pieces.
  const cache = new PieceReadCache(counting, size, 2 * meta.pieceLength);
  for (let p = 0; p < meta.pieceCount; p++) {
    for (let begin = 0; begin < size(p); begin += 16_384) {
      const length = Math.min(16_384, size(p) - begin);
      const block = await cache.readBlock(p, begin, length);
      const at = p * meta.pieceLength + begin;
      assert.deepEqual(block, data.subarray(at, at + length));
      sharedBuffers.release(block);
    }
  }
  assert.equal(wholeReads, meta.pieceCount, 'one disk read per piece');
  await cache.readBlock(meta.pieceCount - 1, 0, 10);
  assert.equal(wholeReads, meta.pieceCount, 'a recent piece is still cached');
  await cache.readBlock(0, 0, 10);
  assert.equal(wholeReads, meta.pieceCount + 1, 'an old piece was evicted');
  await assert.rejects(cache.readBlock(0, 32_000, 16_384), RangeError);
});

test('a block handed out keeps its bytes until released, even after its piece leaves the cache', async (t) => {
  const dir = await tempDir(t);
  const { meta, data } = makeTorrent('held', [{ path: ['held'], length: 8 * 32_768 }], 32_768);
  const storage = new TorrentStorage(meta, dir);
  t.after(() => storage.close());
  for (let p = 0; p < meta.pieceCount; p++) {
    await storage.writeBlock(p, 0, data.subarray(p * meta.pieceLength, (p + 1) * meta.pieceLength));
    assert.ok(await storage.finishPiece(p));
  }
  // Room for one piece: every read evicts the piece before it.
  const cache = new PieceReadCache(storage, () => meta.pieceLength, meta.pieceLength);
  const held = await cache.readBlock(0, 0, 16_384);
  for (let p = 1; p < meta.pieceCount; p++) sharedBuffers.release(await cache.readBlock(p, 16_384, 16_384));
  assert.deepEqual(held, data.subarray(0, 16_384), 'not overwritten by the pieces read after it');
  assert.ok(sharedBuffers.isLive(held));
  sharedBuffers.release(held);
  assert.ok(!sharedBuffers.isLive(held), 'released once the holder let go and the cache evicted it');
});
