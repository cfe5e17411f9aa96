import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { StorageError, StoragePathError, TorrentStorage } from '../../src/storage/index.js';
import { blockData, blocksOf, makeTorrent, shuffled, tempDir, type FileSpec, type TestTorrent } from './fixture.js';

const exists = (p: string) => access(p).then(() => true, () => false);

async function writeAllBlocks(storage: TorrentStorage, t: TestTorrent, blockSize: number, seed: number): Promise<void> {
  for (const b of shuffled(blocksOf(t.meta, blockSize), seed)) await storage.writeBlock(b.piece, b.begin, blockData(t, b));
}

async function finishAll(storage: TorrentStorage, pieceCount: number): Promise<boolean[]> {
  const out: boolean[] = [];
  for (let p = 0; p < pieceCount; p++) out.push(await storage.finishPiece(p));
  return out;
}

/** Multi-file layout: nested folders, an empty file, files smaller than a piece, a piece spanning 3 files. */
const MULTI: FileSpec[] = [
  { path: ['multi', 'a.bin'], length: 100 },
  { path: ['multi', 'empty.txt'], length: 0 },
  { path: ['multi', 'sub', 'deeper', 'b.bin'], length: 10 }, // with 128-byte pieces, piece 0 spans a, b, c
  { path: ['multi', 'sub', 'c.bin'], length: 150 },
  { path: ['multi', '.pad', '6'], length: 6, padding: true },
  { path: ['multi', 'd.bin'], length: 64 },
];

test('single-file torrent: blocks in random order verify and land in the file', async (t) => {
  const dir = await tempDir(t);
  const tt = makeTorrent('single.bin', [{ path: ['single.bin'], length: 1000 }], 256, 7);
  const storage = new TorrentStorage(tt.meta, dir);
  t.after(() => storage.close());
  await writeAllBlocks(storage, tt, 64, 3);
  assert.deepEqual(await finishAll(storage, tt.meta.pieceCount), [true, true, true, true]);
  assert.deepEqual(await readFile(join(dir, 'single.bin')), tt.data);
  assert.deepEqual(await storage.readBlock(3, 100, 132), tt.data.subarray(868, 1000));
});

test('multi-file torrent: nested folders, empty file, padding never on disk, finalize creates the rest', async (t) => {
  const dir = await tempDir(t);
  const tt = makeTorrent('multi', MULTI, 128, 11);
  const storage = new TorrentStorage(tt.meta, dir);
  t.after(() => storage.close());
  assert.deepEqual(storage.layout.pieceSpans(0, 96, 32).map((s) => s.fileIndex), [0, 2, 3]);

  await writeAllBlocks(storage, tt, 32, 5);
  assert.deepEqual(await finishAll(storage, tt.meta.pieceCount), [true, true, true]);
  assert.equal(await exists(join(dir, 'multi', 'empty.txt')), false, 'empty files are created by finalize only');
  await storage.finalize();

  for (const f of tt.meta.files) {
    const p = join(dir, ...f.path);
    if (f.padding) {
      assert.equal(await exists(p), false, `padding file ${p} must not exist`);
      continue;
    }
    assert.deepEqual(await readFile(p), tt.data.subarray(f.offset, f.offset + f.length), p);
  }
  assert.equal(await exists(join(dir, 'multi', '.pad')), false);
  // The padding region reads back as zeros; a block spanning a.bin | b.bin | c.bin reads across files.
  const aroundPadding = await storage.readBlock(2, 0, 14);
  assert.deepEqual(aroundPadding.subarray(4, 10), Buffer.alloc(6));
  assert.deepEqual(aroundPadding, tt.data.subarray(256, 270));
  assert.deepEqual(await storage.readBlock(0, 90, 30), tt.data.subarray(90, 120));
});

test('a corrupted block fails the piece; discarding and refetching passes it', async (t) => {
  const dir = await tempDir(t);
  const tt = makeTorrent('multi', MULTI, 128, 12);
  const storage = new TorrentStorage(tt.meta, dir);
  t.after(() => storage.close());
  const bad = Buffer.from(tt.data.subarray(128 + 32, 128 + 64));
  bad[5] ^= 0x40;
  await storage.writeBlock(1, 96, tt.data.subarray(224, 256));
  await storage.writeBlock(1, 32, bad);
  await storage.writeBlock(1, 0, tt.data.subarray(128, 160));
  await storage.writeBlock(1, 64, tt.data.subarray(192, 224));
  assert.equal(await storage.finishPiece(1), false);
  assert.equal(await storage.verifyPiece(1), false);

  storage.discardPiece(1);
  for (let begin = 0; begin < 128; begin += 32) await storage.writeBlock(1, begin, tt.data.subarray(128 + begin, 160 + begin));
  assert.equal(await storage.finishPiece(1), true);
});

test('a different duplicate of an already hashed block does not overwrite it (endgame)', async (t) => {
  const dir = await tempDir(t);
  const tt = makeTorrent('dup.bin', [{ path: ['dup.bin'], length: 64 }], 64, 13);
  const storage = new TorrentStorage(tt.meta, dir);
  t.after(() => storage.close());
  await storage.writeBlock(0, 0, tt.data.subarray(0, 32));
  await storage.writeBlock(0, 0, Buffer.alloc(32, 0xee));
  await storage.writeBlock(0, 32, tt.data.subarray(32, 64));
  assert.equal(await storage.finishPiece(0), true);
  assert.equal(await storage.verifyPiece(0), true, 'disk still holds what was hashed');
});

test('blocks are hashed as the contiguous prefix grows, not re-read at finishPiece', async (t) => {
  const dir = await tempDir(t);
  const tt = makeTorrent('inc.bin', [{ path: ['inc.bin'], length: 256 }], 128, 19);
  const storage = new TorrentStorage(tt.meta, dir);
  t.after(() => storage.close());
  // Piece 0 in order; piece 1 as 2, 3, 1 then 0 (the last write hashes blocks 1-3 back from disk).
  for (const [piece, begin] of [[0, 0], [0, 32], [0, 64], [0, 96], [1, 64], [1, 96], [1, 32], [1, 0]]) {
    const at = piece * 128 + begin;
    await storage.writeBlock(piece, begin, tt.data.subarray(at, at + 32));
  }
  // Damage both pieces on disk: the hashes already cover the good data, a full re-read sees the damage.
  await writeFile(join(dir, 'inc.bin'), Buffer.alloc(256));
  assert.equal(await storage.finishPiece(0), true);
  assert.equal(await storage.finishPiece(1), true);
  assert.equal(await storage.verifyPiece(0), false);
});

test('property: incremental hashing gives the same verdict as a full re-read', async () => {
  const fileSpec = fc.record({ length: fc.integer({ min: 0, max: 90 }), padding: fc.boolean() });
  await fc.assert(
    fc.asyncProperty(
      fc.array(fileSpec, { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 5 }).map((k) => 16 * k),
      fc.integer({ min: 1, max: 40 }),
      fc.constantFrom('in-order', 'reverse', 'random'),
      fc.integer(),
      fc.option(fc.record({ block: fc.nat(), byte: fc.nat(), rewriteAfter: fc.boolean() }), { nil: undefined }),
      async (specs, pieceLength, blockSize, order, seed, corruption) => {
        const files: FileSpec[] = specs.map((s, i) => ({ path: ['p', `f${i}`], length: s.length, padding: s.padding && s.length > 0 }));
        if (files.every((f) => f.length === 0 || f.padding)) files.push({ path: ['p', 'last'], length: 33 });
        const tt = makeTorrent('p', files, pieceLength, seed);
        const inOrder = blocksOf(tt.meta, blockSize);
        const inPadding = (b: (typeof inOrder)[number], at: number) => {
          const offset = b.piece * pieceLength + b.begin + at;
          return tt.meta.files.some((f) => f.padding && offset >= f.offset && offset < f.offset + f.length);
        };
        const blocks = order === 'in-order' ? inOrder : order === 'reverse' ? [...inOrder].reverse() : shuffled(inOrder, seed);
        const dir = await mkdtemp(join(tmpdir(), 'torrent-ts-prop-'));
        const storage = new TorrentStorage(tt.meta, dir, { maxOpenFiles: 2 });
        try {
          const target = corruption ? blocks[corruption.block % blocks.length] : undefined;
          const garbled = (b: (typeof blocks)[number]) => {
            const copy = Buffer.from(blockData(tt, b));
            copy[corruption!.byte % copy.length] ^= 0x01;
            return copy;
          };
          for (const b of blocks) {
            const good = blockData(tt, b);
            if (b === target && !corruption!.rewriteAfter) await storage.writeBlock(b.piece, b.begin, garbled(b));
            else await storage.writeBlock(b.piece, b.begin, good);
            // A later duplicate with different bytes: ignored if hashed already, else it replaces the data.
            if (b === target && corruption!.rewriteAfter) await storage.writeBlock(b.piece, b.begin, garbled(b));
          }
          for (let p = 0; p < tt.meta.pieceCount; p++) {
            const incremental = await storage.finishPiece(p);
            const fullReread = await storage.verifyPiece(p);
            assert.equal(incremental, fullReread, `piece ${p}`);
            if (!target || target.piece !== p) assert.equal(incremental, true, `untouched piece ${p}`);
            else if (!corruption!.rewriteAfter && !inPadding(target, corruption!.byte % target.length)) {
              assert.equal(incremental, false, `corrupted piece ${p}`);
            }
          }
        } finally {
          await storage.close();
          await rm(dir, { recursive: true, force: true });
        }
      },
    ),
    { numRuns: 40 },
  );
});

test('readBlock of data not on disk fails with a typed error', async (t) => {
  const dir = await tempDir(t);
  const tt = makeTorrent('multi', MULTI, 128, 14);
  const storage = new TorrentStorage(tt.meta, dir);
  t.after(() => storage.close());
  await assert.rejects(storage.readBlock(0, 0, 16), (e: unknown) => e instanceof StorageError && e.code === 'ENOENT');
  await storage.writeBlock(0, 0, tt.data.subarray(0, 50));
  await assert.rejects(storage.readBlock(0, 40, 20), (e: unknown) => e instanceof StorageError && e.code === 'ESHORT');
  await assert.rejects(storage.readBlock(0, 120, 16), RangeError);
  await assert.rejects(storage.writeBlock(5, 0, Buffer.alloc(1)), RangeError);
});

test('10,000 files with maxOpenFiles=16: concurrent writes stay under the limit and verify', async (t) => {
  const dir = await tempDir(t);
  const files: FileSpec[] = Array.from({ length: 10_000 }, (_, i) => ({ path: ['many', `d${i % 50}`, `f${i}`], length: 1 + (i % 7) }));
  const tt = makeTorrent('many', files, 2048, 15);
  const storage = new TorrentStorage(tt.meta, dir, { maxOpenFiles: 16 });
  t.after(() => storage.close());
  let maxSeen = 0;
  const pieces = Array.from({ length: tt.meta.pieceCount }, (_, p) => p);
  for (let i = 0; i < pieces.length; i += 8) {
    await Promise.all(
      pieces.slice(i, i + 8).map(async (p) => {
        const size = Math.min(2048, tt.meta.totalLength - p * 2048);
        await storage.writeBlock(p, 0, tt.data.subarray(p * 2048, p * 2048 + size));
        maxSeen = Math.max(maxSeen, storage.openFileCount);
        assert.equal(await storage.finishPiece(p), true, `piece ${p}`);
      }),
    );
  }
  assert.ok(maxSeen <= 16, `saw ${maxSeen} open files`);
  const have = await storage.checkExisting();
  assert.equal(have.complete, true);
  assert.ok(storage.openFileCount <= 16);
  assert.deepEqual(await readFile(join(dir, 'many', 'd49', 'f9999')), tt.data.subarray(tt.meta.totalLength - 4));
});

test('file paths leaving the download folder are refused', async (t) => {
  const dir = await tempDir(t);
  const escapes = [['..', 'evil'], ['multi', '..', '..', 'evil'], ['/tmp/evil'], ['..'], ['.'], ['a', ''], ['a\0b']];
  for (const path of escapes) {
    const tt = makeTorrent('multi', [{ path: ['multi', 'ok'], length: 10 }, { path, length: 10 }], 16);
    assert.throws(() => new TorrentStorage(tt.meta, join(dir, 'inner')), StoragePathError, path.join('/'));
  }
  const clash = makeTorrent('multi', [{ path: ['m', 'x'], length: 1 }, { path: ['m', '.', 'x'], length: 1 }], 16);
  assert.throws(() => new TorrentStorage(clash.meta, dir), StoragePathError);
  // Padding files never touch disk, so their paths are not used at all.
  const padded = makeTorrent('multi', [{ path: ['m', 'x'], length: 1 }, { path: ['..', 'pad'], length: 1, padding: true }], 16);
  assert.doesNotThrow(() => new TorrentStorage(padded.meta, dir));
});

test('checkExisting: partial, truncated and corrupted data; progress, piece subsets and abort', async (t) => {
  const dir = await tempDir(t);
  const tt = makeTorrent('multi', MULTI, 32, 16); // 11 pieces
  const storage = new TorrentStorage(tt.meta, dir);
  t.after(() => storage.close());
  await writeAllBlocks(storage, tt, 32, 1);
  await finishAll(storage, tt.meta.pieceCount);
  await truncate(join(dir, 'multi', 'sub', 'c.bin'), 100); // holds 110..260: 210.. lost, pieces 6, 7, 8
  const d = join(dir, 'multi', 'd.bin'); // offsets 266..330: piece 8 (256..288) corrupted
  const content = await readFile(d);
  content[3] ^= 1;
  await writeFile(d, content);

  const progress: [number, number][] = [];
  const have = await storage.checkExisting({ onProgress: (c, n) => progress.push([c, n]) });
  assert.deepEqual([...have.indices()], [0, 1, 2, 3, 4, 5, 9, 10]);
  assert.equal(progress.length, 11);
  assert.deepEqual(progress.at(-1), [11, 11]);

  const subset = await storage.checkExisting({ pieces: [9, 8, 1] });
  assert.deepEqual([...subset.indices()], [1, 9]);

  const controller = new AbortController();
  controller.abort(new Error('stop'));
  await assert.rejects(storage.checkExisting({ signal: controller.signal }), /stop/);
});

test('checkExisting reads pieces larger than its read buffer and runs spanning files', async (t) => {
  const dir = await tempDir(t);
  const pieceLength = 8 << 20;
  const tt = makeTorrent('big', [{ path: ['big', 'a'], length: 5 << 20 }, { path: ['big', 'b'], length: (11 << 20) + 5 }], pieceLength, 17);
  const storage = new TorrentStorage(tt.meta, dir);
  t.after(() => storage.close());
  await mkdir(join(dir, 'big'));
  await writeFile(join(dir, 'big', 'a'), tt.data.subarray(0, 5 << 20));
  const b = Buffer.from(tt.data.subarray(5 << 20));
  b[b.length - 1] ^= 1; // breaks the last (short) piece only
  await writeFile(join(dir, 'big', 'b'), b);
  assert.deepEqual([...(await storage.checkExisting()).indices()], [0, 1]);
});

test('finalize fixes file lengths; a write blocked by a file in the way is a typed error', async (t) => {
  const dir = await tempDir(t);
  const tt = makeTorrent('multi', MULTI, 128, 18);
  const storage = new TorrentStorage(tt.meta, dir);
  t.after(() => storage.close());
  await writeAllBlocks(storage, tt, 64, 2);
  await finishAll(storage, tt.meta.pieceCount);
  await writeFile(join(dir, 'multi', 'd.bin'), Buffer.concat([tt.data.subarray(266), Buffer.from('trailing junk')]));
  await truncate(join(dir, 'multi', 'a.bin'), 60);
  await storage.finalize();
  assert.equal((await stat(join(dir, 'multi', 'd.bin'))).size, 64);
  assert.equal((await stat(join(dir, 'multi', 'a.bin'))).size, 100);
  assert.equal((await stat(join(dir, 'multi', 'empty.txt'))).size, 0);

  const other = await tempDir(t);
  await writeFile(join(other, 'multi'), 'a file where the torrent needs a folder');
  const blocked = new TorrentStorage(tt.meta, other);
  t.after(() => blocked.close());
  await assert.rejects(blocked.writeBlock(0, 0, tt.data.subarray(0, 64)), (e: unknown) => {
    assert.ok(e instanceof StorageError);
    assert.match(e.code, /^(ENOTDIR|EEXIST)$/);
    assert.match(e.message, /conflicting name/);
    return true;
  });
  await blocked.writeBlock(0, 64, tt.data.subarray(64, 128)).catch(() => undefined);
  assert.equal(await blocked.finishPiece(0), false, 'a failed write never verifies');
});

test('operations after close are refused', async (t) => {
  const dir = await tempDir(t);
  const tt = makeTorrent('single.bin', [{ path: ['single.bin'], length: 10 }], 16);
  const storage = new TorrentStorage(tt.meta, dir);
  await storage.writeBlock(0, 0, tt.data);
  await storage.close();
  await assert.rejects(storage.readBlock(0, 0, 10), (e: unknown) => e instanceof StorageError && e.code === 'ECLOSED');
});
