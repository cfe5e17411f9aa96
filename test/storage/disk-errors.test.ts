/**
 * Real disk failures: a tiny tmpfs fills up (ENOSPC) and a read-only tmpfs refuses writes (EROFS). Mounting
 * needs root; without it these tests skip with a reason (and fail under TORRENT_TS_STRICT_INTEROP=1).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Bitfield } from '../../src/bitfield/index.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { saveResume, StorageError, TorrentStorage } from '../../src/storage/index.js';
import { requireProgram } from '../support/interop.js';
import { makeTorrent } from './fixture.js';

function mountTmpfs(options: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'torrent-ts-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore', timeout: 10_000 });
  if (r.status === 0) return dir;
  rmdirSync(dir);
  return undefined;
}

function unmount(dir: string): void {
  spawnSync('umount', [dir], { stdio: 'ignore', timeout: 10_000 });
  rmdirSync(dir);
}

function canMountTmpfs(): boolean {
  const dir = mountTmpfs('size=64k');
  if (dir) unmount(dir);
  return dir !== undefined;
}

const tmpfsSkip = requireProgram('tmpfs mounting (root)', canMountTmpfs(), 'run the tests as root to simulate a full disk');

/** Storage on a fresh tmpfs; closed and unmounted when the test ends. */
function storageOnTmpfs(t: TestContext, options: string, meta: Metainfo): { dir: string; storage: TorrentStorage } {
  const dir = mountTmpfs(options);
  assert.ok(dir, `mount -t tmpfs -o ${options} failed`);
  const storage = new TorrentStorage(meta, dir);
  t.after(async () => {
    await storage.close();
    unmount(dir);
  });
  return { dir, storage };
}

/** Fails the test if anything rejects without a handler while it runs. */
function watchUnhandledRejections(t: TestContext): unknown[] {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onRejection);
  t.after(() => {
    process.off('unhandledRejection', onRejection);
  });
  return seen;
}

test('a full disk is a typed ENOSPC error, and the piece it hit never verifies', { skip: tmpfsSkip }, async (t) => {
  const unhandled = watchUnhandledRejections(t);
  const tt = makeTorrent('big.bin', [{ path: ['big.bin'], length: 512 * 1024 }], 64 * 1024, 31);
  const { dir, storage } = storageOnTmpfs(t, 'size=128k', tt.meta);

  let failure: unknown;
  let failedPiece = -1;
  for (let p = 0; p < tt.meta.pieceCount && failure === undefined; p++) {
    for (let begin = 0; begin < tt.meta.pieceLength; begin += 16 * 1024) {
      const at = p * tt.meta.pieceLength + begin;
      try {
        await storage.writeBlock(p, begin, tt.data.subarray(at, at + 16 * 1024));
      } catch (err) {
        failure = err;
        failedPiece = p;
        break;
      }
    }
    if (failure === undefined) assert.equal(await storage.finishPiece(p), true);
  }
  assert.ok(failure instanceof StorageError, `expected a StorageError, got ${String(failure)}`);
  assert.equal(failure.code, 'ENOSPC');
  assert.match(failure.message, /^disk full writing .*big\.bin/);
  assert.equal(await storage.finishPiece(failedPiece), false);

  // Saving resume data to a full disk fails the same way and leaves no temp file behind.
  await assert.rejects(saveResume(join(dir, 'state'), tt.meta, dir, new Bitfield(tt.meta.pieceCount)), (e: unknown) => {
    return e instanceof StorageError && e.code === 'ENOSPC';
  });
  const leftovers = await readdir(join(dir, 'state', 'resume')).catch(() => []);
  assert.deepEqual(leftovers, []);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(unhandled, []);
});

test('a read-only file system is a typed EROFS error naming the file', { skip: tmpfsSkip }, async (t) => {
  const tt = makeTorrent('multi', [{ path: ['multi', 'x.bin'], length: 100 }], 64, 32);
  const { storage } = storageOnTmpfs(t, 'size=64k,ro', tt.meta);
  await assert.rejects(storage.writeBlock(0, 0, tt.data.subarray(0, 64)), (e: unknown) => {
    assert.ok(e instanceof StorageError);
    assert.equal(e.code, 'EROFS');
    assert.match(e.message, /read-only file system .*multi/);
    return true;
  });
  assert.equal(await storage.finishPiece(0), false);
  assert.equal((await storage.checkExisting()).count, 0);
});
