import { test } from 'node:test';
import assert from 'node:assert/strict';
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
    readBlock: {
      value: (piece: number, begin: number, length: number) => {
        if (begin === 0 && length === size(piece)) wholeReads++;
        return storage.readBlock(piece, begin, length);
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
    }
  }
  assert.equal(wholeReads, meta.pieceCount, 'one disk read per piece');
  await cache.readBlock(meta.pieceCount - 1, 0, 10);
  assert.equal(wholeReads, meta.pieceCount, 'a recent piece is still cached');
  await cache.readBlock(0, 0, 10);
  assert.equal(wholeReads, meta.pieceCount + 1, 'an old piece was evicted');
  await assert.rejects(cache.readBlock(0, 32_000, 16_384), RangeError);
});
