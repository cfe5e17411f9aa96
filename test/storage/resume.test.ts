import assert from 'node:assert/strict';
import { readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { Bitfield } from '../../src/bitfield/index.js';
import { loadResume, restoreState, resumeFilePath, saveResume, TorrentStorage } from '../../src/storage/index.js';
import { blockData, blocksOf, makeTorrent, tempDir, type FileSpec } from './fixture.js';

// 32-byte pieces over: a 0..40 (pieces 0-1), b 40..100 (1-3), pad 100..104 (3), c 104..170 (3-5)
const FILES: FileSpec[] = [
  { path: ['r', 'a'], length: 40 },
  { path: ['r', 'sub', 'b'], length: 60 },
  { path: ['r', '.pad', '4'], length: 4, padding: true },
  { path: ['r', 'c'], length: 66 },
];

/** A completed download plus its saved resume data. */
async function downloaded(t: TestContext) {
  const dir = await tempDir(t, 'data');
  const stateDir = await tempDir(t, 'state');
  const tt = makeTorrent('r', FILES, 32, 21);
  const storage = new TorrentStorage(tt.meta, dir);
  t.after(() => storage.close());
  const have = new Bitfield(tt.meta.pieceCount);
  for (const b of blocksOf(tt.meta, 32)) {
    await storage.writeBlock(b.piece, b.begin, blockData(tt, b));
    if (await storage.finishPiece(b.piece)) have.set(b.piece);
  }
  assert.equal(have.complete, true);
  await saveResume(stateDir, tt.meta, dir, have);
  return { dir, stateDir, tt, storage, have };
}

test('save then load: every piece trusted, nothing to recheck; the file lives in the state folder', async (t) => {
  const { dir, stateDir, tt } = await downloaded(t);
  const file = resumeFilePath(stateDir, tt.meta, dir);
  assert.equal(join(stateDir, 'resume'), join(file, '..'));
  assert.match(basename(file), new RegExp(`^${tt.meta.infoHashHex}-[0-9a-f]{12}\\.resume$`));
  assert.deepEqual(await readdir(join(stateDir, 'resume')), [basename(file)], 'no temp files left behind');
  assert.notEqual(resumeFilePath(stateDir, tt.meta, join(dir, 'elsewhere')), file, 'keyed by download folder too');

  const loaded = await loadResume(stateDir, tt.meta, dir);
  assert.ok(loaded);
  assert.equal(loaded.trusted.complete, true);
  assert.deepEqual(loaded.recheck, []);
});

test('a partial bitfield is kept as is', async (t) => {
  const { dir, stateDir, tt } = await downloaded(t);
  const partial = new Bitfield(tt.meta.pieceCount);
  partial.set(0);
  partial.set(4);
  await saveResume(stateDir, tt.meta, dir, partial);
  const loaded = await loadResume(stateDir, tt.meta, dir);
  assert.deepEqual([...loaded!.trusted.indices()], [0, 4]);
  assert.deepEqual(loaded!.recheck, []);
});

test('a file whose mtime changed sends only its pieces to recheck', async (t) => {
  const { dir, stateDir, tt, storage } = await downloaded(t);
  const later = new Date(Date.now() + 60_000);
  await utimes(join(dir, 'r', 'sub', 'b'), later, later);
  const loaded = await loadResume(stateDir, tt.meta, dir);
  assert.deepEqual(loaded!.recheck, [1, 2, 3]);
  assert.deepEqual([...loaded!.trusted.indices()], [0, 4, 5]);

  // Damage b's data (keeping its new mtime): restoreState hashes pieces 1-3 only and drops piece 2.
  const b = await readFile(join(dir, 'r', 'sub', 'b'));
  b[30] ^= 0xff; // torrent offset 70: piece 2
  await writeFile(join(dir, 'r', 'sub', 'b'), b);
  await utimes(join(dir, 'r', 'sub', 'b'), later, later);
  const progress: [number, number][] = [];
  const have = await restoreState(storage, stateDir, (c, n) => progress.push([c, n]));
  assert.deepEqual([...have.indices()], [0, 1, 3, 4, 5]);
  assert.deepEqual(progress.at(-1), [3, 3]);
});

test('a file that changed size is rechecked; a truncated file loses its pieces', async (t) => {
  const { dir, stateDir, tt, storage } = await downloaded(t);
  await writeFile(join(dir, 'r', 'c'), (await readFile(join(dir, 'r', 'c'))).subarray(0, 20)); // keeps 104..124
  const loaded = await loadResume(stateDir, tt.meta, dir);
  assert.deepEqual(loaded!.recheck, [3, 4, 5]);
  const have = await restoreState(storage, stateDir);
  assert.deepEqual([...have.indices()], [0, 1, 2]);
});

test('a missing, corrupt, truncated or foreign resume file means a full recheck', async (t) => {
  const { dir, stateDir, tt, storage } = await downloaded(t);
  const file = resumeFilePath(stateDir, tt.meta, dir);
  const good = await readFile(file);
  const other = makeTorrent('r', FILES, 32, 99); // same layout, different info-hash
  const variants = [good.subarray(0, good.length - 3), Buffer.from('garbage'), Buffer.alloc(0)];
  for (const bytes of variants) {
    await writeFile(file, bytes);
    assert.equal(await loadResume(stateDir, tt.meta, dir), undefined);
  }
  await writeFile(resumeFilePath(stateDir, other.meta, dir), good);
  assert.equal(await loadResume(stateDir, other.meta, dir), undefined, 'info-hash must match');
  assert.equal(await loadResume(join(stateDir, 'nowhere'), tt.meta, dir), undefined);

  let total = 0;
  const have = await restoreState(storage, stateDir, (_, n) => (total = n));
  assert.equal(total, tt.meta.pieceCount, 'every piece hashed');
  assert.equal(have.complete, true);
});

test('property: loading arbitrary damage to a resume file never throws', async (t) => {
  const { dir, stateDir, tt } = await downloaded(t);
  const file = resumeFilePath(stateDir, tt.meta, dir);
  const good = await readFile(file);
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.tuple(fc.nat(good.length), fc.nat(255)).map(([at, v]) => {
          const copy = Buffer.from(good);
          copy[Math.min(at, copy.length - 1)] = v;
          return copy;
        }),
        fc.nat(good.length).map((n) => good.subarray(0, n)),
      ),
      async (bytes) => {
        await writeFile(file, bytes);
        const loaded = await loadResume(stateDir, tt.meta, dir);
        if (loaded) {
          assert.equal(loaded.trusted.length, tt.meta.pieceCount);
          for (const p of loaded.recheck) assert.equal(loaded.trusted.has(p), false);
        }
      },
    ),
    { numRuns: 150 },
  );
});
