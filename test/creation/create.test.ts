import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { autoPieceLength, createTorrent, CreateTorrentError } from '../../src/creation/index.js';
import { parseMetainfo } from '../../src/metainfo/index.js';
import { piecesOf } from '../metainfo/torrent-builder.js';
import { tempDir, writeTree } from './tree.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('autoPieceLength', () => {
  test('smallest power of two giving at most 2000 pieces, within 16 KiB..16 MiB', () => {
    assert.equal(autoPieceLength(1), 16 * KiB);
    assert.equal(autoPieceLength(2000 * 16 * KiB), 16 * KiB);
    assert.equal(autoPieceLength(2000 * 16 * KiB + 1), 32 * KiB);
    assert.equal(autoPieceLength(700 * MiB), 512 * KiB);
    assert.equal(autoPieceLength(4096 * MiB), 4 * MiB);
    assert.equal(autoPieceLength(2 ** 40), 16 * MiB);
  });
});

describe('createTorrent: single file', () => {
  test('round trip: pieces are the SHA-1s of the file, metadata as asked', async (t) => {
    const dir = await tempDir(t);
    const contents = await writeTree(dir, { 'video.bin': 100_000 });
    const { torrent, meta } = await createTorrent(join(dir, 'video.bin'), {
      pieceLength: 16 * KiB,
      announce: ['http://127.0.0.1:1/announce', 'udp://127.0.0.1:2'],
      webSeeds: ['http://127.0.0.1:8/video.bin'],
      private: true,
      comment: 'hello',
      createdBy: 'test suite',
    });
    assert.deepEqual(parseMetainfo(torrent), meta);
    assert.equal(meta.multiFile, false);
    assert.equal(meta.name, 'video.bin');
    assert.deepEqual(meta.files, [{ path: ['video.bin'], length: 100_000, offset: 0, padding: false }]);
    assert.deepEqual(meta.pieceHashes, piecesOf(contents.get('video.bin')!, 16 * KiB));
    assert.deepEqual(meta.announceTiers, [['http://127.0.0.1:1/announce'], ['udp://127.0.0.1:2']]);
    assert.deepEqual(meta.webSeeds, ['http://127.0.0.1:8/video.bin']);
    assert.equal(meta.private, true);
    assert.equal(meta.comment, 'hello');
    assert.equal(meta.createdBy, 'test suite');
  });

  test('created by defaults to torrent.ts/<package version>; creation date is now unless noDate', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { f: 10 });
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8'));
    const dated = await createTorrent(join(dir, 'f'));
    assert.equal(dated.meta.createdBy, `torrent.ts/${pkg.version}`);
    const age = Date.now() - dated.meta.creationDate!.getTime();
    assert.ok(age >= 0 && age < 86_400_000, `creation date ${dated.meta.creationDate?.toISOString()}`);
    const undated = await createTorrent(join(dir, 'f'), { noDate: true });
    assert.equal(undated.meta.creationDate, undefined);
  });

  test('noDate gives byte-identical output for the same input', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { f: 50_000 });
    const a = await createTorrent(join(dir, 'f'), { noDate: true });
    const b = await createTorrent(join(dir, 'f'), { noDate: true });
    assert.deepEqual(a.torrent, b.torrent);
  });

  test('tiers override announce; a single tracker writes no announce-list', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { f: 10 });
    const tiered = await createTorrent(join(dir, 'f'), {
      announce: ['http://127.0.0.1:9/ignored'],
      tiers: [['http://127.0.0.1:1/a', 'http://127.0.0.1:2/b'], ['udp://127.0.0.1:3']],
    });
    assert.deepEqual(tiered.meta.announceTiers, [['http://127.0.0.1:1/a', 'http://127.0.0.1:2/b'], ['udp://127.0.0.1:3']]);
    const single = await createTorrent(join(dir, 'f'), { announce: ['http://127.0.0.1:1/a'] });
    assert.ok(!Buffer.from(single.torrent).includes('announce-list'));
    assert.deepEqual(single.meta.announceTiers, [['http://127.0.0.1:1/a']]);
  });
});

describe('createTorrent: folders', () => {
  test('files in path-byte order, pieces spanning files hashed like the concatenation', async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, 'album');
    const contents = await writeTree(root, {
      'b.bin': 300_000,
      'a/z.bin': 70_001,
      'a.txt': 5,
      'a-x': 17,
      'empty': 0,
      'Z/deep/er/file': 600_000,
    });
    const { meta } = await createTorrent(root, { pieceLength: 16 * KiB, noDate: true });
    const order = ['Z/deep/er/file', 'a-x', 'a.txt', 'a/z.bin', 'b.bin', 'empty'];
    assert.deepEqual(
      meta.files.map((f) => f.path.join('/')),
      order.map((p) => `album/${p}`),
    );
    const all = Buffer.concat(order.map((p) => contents.get(p)!));
    assert.equal(meta.totalLength, all.length);
    assert.deepEqual(meta.pieceHashes, piecesOf(all, 16 * KiB));
  });

  test('hidden files and OS junk are skipped unless includeHidden', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, {
      'keep.txt': 10,
      '.hidden': 10,
      '.git/config': 10,
      'Thumbs.db': 10,
      'sub/desktop.ini': 10,
      'sub/.DS_Store': 10,
    });
    const names = (m: { files: { path: string[] }[] }) => m.files.map((f) => f.path.slice(1).join('/'));
    const plain = await createTorrent(dir);
    assert.deepEqual(names(plain.meta), ['keep.txt']);
    const all = await createTorrent(dir, { includeHidden: true });
    assert.deepEqual(names(all.meta), ['.git/config', '.hidden', 'Thumbs.db', 'keep.txt', 'sub/.DS_Store', 'sub/desktop.ini']);
  });

  test('symlinks to files and folders are followed; loops and dangling links skipped', async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, 'root');
    const contents = await writeTree(dir, { 'root/real/f': 1000, 'outside/g': 2000 });
    await symlink(join(dir, 'root', 'real', 'f'), join(root, 'link-to-file'));
    await symlink(join(dir, 'outside'), join(root, 'link-to-folder'));
    await symlink(root, join(root, 'real', 'loop'));
    await symlink(join(dir, 'nowhere'), join(root, 'dangling'));
    const { meta } = await createTorrent(root, { pieceLength: 16 * KiB });
    assert.deepEqual(
      meta.files.map((f) => [f.path.slice(1).join('/'), f.length]),
      [
        ['link-to-file', 1000],
        ['link-to-folder/g', 2000],
        ['real/f', 1000],
      ],
    );
    const data = Buffer.concat([contents.get('root/real/f')!, contents.get('outside/g')!, contents.get('root/real/f')!]);
    assert.deepEqual(meta.pieceHashes, piecesOf(data, 16 * KiB));
  });

  test('pad: every non-empty file starts on a piece boundary, padding hashed as zeros', async (t) => {
    const dir = await tempDir(t);
    const contents = await writeTree(dir, { a: 10, b: 16 * KiB, c: 0, d: 20_000, e: 3 });
    const { meta } = await createTorrent(dir, { pieceLength: 16 * KiB, pad: true });
    assert.deepEqual(
      meta.files.map((f) => [f.path.slice(1).join('/'), f.length, f.padding]),
      [
        ['a', 10, false],
        ['.pad/16374', 16374, true],
        ['b', 16384, false],
        ['c', 0, false],
        ['d', 20_000, false],
        ['.pad/12768', 12768, true],
        ['e', 3, false],
      ],
    );
    for (const f of meta.files) if (!f.padding && f.length > 0) assert.equal(f.offset % (16 * KiB), 0);
    const zeros = (n: number) => new Uint8Array(n);
    const data = Buffer.concat([
      contents.get('a')!,
      zeros(16374),
      contents.get('b')!,
      contents.get('d')!,
      zeros(12768),
      contents.get('e')!,
    ]);
    assert.deepEqual(meta.pieceHashes, piecesOf(data, 16 * KiB));
  });

  test('pieces larger than a read chunk, a file spanning several pieces', async (t) => {
    const dir = await tempDir(t);
    const contents = await writeTree(dir, { big: 5 * MiB + 3, small: 100 });
    const { meta } = await createTorrent(dir, { pieceLength: 2 * MiB });
    const data = Buffer.concat([contents.get('big')!, contents.get('small')!]);
    assert.equal(meta.pieceCount, 3);
    assert.deepEqual(meta.pieceHashes, piecesOf(data, 2 * MiB));
  });

  test('onProgress counts up to the total', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { a: 700_000, b: 300_000 });
    const seen: [number, number][] = [];
    await createTorrent(dir, { pieceLength: 16 * KiB, onProgress: (done, total) => seen.push([done, total]) });
    assert.ok(seen.length > 1);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i][0] > seen[i - 1][0]);
    assert.deepEqual(seen[seen.length - 1], [1_000_000, 1_000_000]);
  });
});

describe('createTorrent: hashing threads', () => {
  // Workers and the calling thread share the jobs; whoever hashes a piece, the result is the same.
  test('1, 2 and 5 threads give the same pieces over files, padding and a short last piece', async (t) => {
    const dir = await tempDir(t);
    const contents = await writeTree(dir, { a: 300_000, b: 1_000_001, c: 5, d: 700_000 });
    const zeros = (n: number) => new Uint8Array(n);
    const pad = (n: number) => zeros((16 * KiB - (n % (16 * KiB))) % (16 * KiB));
    const data = Buffer.concat([
      contents.get('a')!, pad(300_000), contents.get('b')!, pad(1_000_001), contents.get('c')!, pad(5), contents.get('d')!,
    ]);
    for (const threads of [1, 2, 5]) {
      const { meta } = await createTorrent(dir, { pieceLength: 16 * KiB, pad: true, threads });
      assert.equal(meta.totalLength, data.length);
      assert.deepEqual(meta.pieceHashes, piecesOf(data, 16 * KiB), `${threads} threads`);
    }
  });

  test('by default, an input above 32 MiB is hashed right', async (t) => {
    const dir = await tempDir(t);
    const contents = await writeTree(dir, { f: 40 * MiB + 17 });
    const { meta } = await createTorrent(join(dir, 'f'), { pieceLength: 256 * KiB });
    assert.deepEqual(meta.pieceHashes, piecesOf(contents.get('f')!, 256 * KiB));
  });

  test('a thread count that is not a whole number of at least 1', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { f: 10 });
    for (const threads of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(createTorrent(join(dir, 'f'), { threads }), (err: unknown) => {
        assert.ok(err instanceof CreateTorrentError);
        assert.match(err.message, /threads must be a whole number of at least 1/);
        return true;
      });
    }
  });
});

describe('createTorrent: failures', () => {
  async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
    await assert.rejects(promise, (err: unknown) => {
      assert.ok(err instanceof CreateTorrentError, `expected CreateTorrentError, got ${String(err)}`);
      assert.match(err.message, pattern);
      return true;
    });
  }

  test('an empty folder, or one with only hidden files', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'empty', 'sub'), { recursive: true });
    await rejectsWith(createTorrent(join(dir, 'empty')), /contains no files/);
    await writeTree(dir, { 'hidden/.x': 5 });
    await rejectsWith(createTorrent(join(dir, 'hidden')), /hidden files are skipped/);
  });

  test('only empty files', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { 'z/a': 0, 'z/b': 0, one: 0 });
    await rejectsWith(createTorrent(join(dir, 'z')), /holds no data/);
    await rejectsWith(createTorrent(join(dir, 'one')), /holds no data/);
  });

  test('a missing input', async (t) => {
    const dir = await tempDir(t);
    await rejectsWith(createTorrent(join(dir, 'nope')), /cannot read .*nope/);
  });

  test('bad piece lengths', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { f: 10 });
    for (const pieceLength of [1000, 8 * KiB, 512 * MiB, 0, -16384, 16384.5]) {
      await rejectsWith(createTorrent(join(dir, 'f'), { pieceLength }), /must be a power of two/);
    }
  });

  test('bad URLs', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { f: 10 });
    await rejectsWith(createTorrent(join(dir, 'f'), { announce: ['not a url'] }), /invalid tracker URL/);
    await rejectsWith(createTorrent(join(dir, 'f'), { webSeeds: [''] }), /invalid web seed URL/);
  });

  test('a file name other clients would refuse', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { 'r/ok': 5 });
    await writeFile(join(dir, 'r', 'back\\slash'), 'x');
    await rejectsWith(createTorrent(join(dir, 'r')), /back\\slash.*contains "\\"/);
  });

  for (const threads of [1, 3]) {
    test(`a file that shrinks while being hashed (${threads} threads)`, async (t) => {
      const dir = await tempDir(t);
      await writeTree(dir, { f: 2 * MiB });
      let truncated = false;
      const result = createTorrent(join(dir, 'f'), {
        pieceLength: 16 * KiB,
        threads,
        onProgress: () => {
          if (!truncated) truncateSync(join(dir, 'f'), 1000);
          truncated = true;
        },
      });
      await rejectsWith(result, /cannot hash the input: .*\/f shrank while it was being hashed/);
    });
  }

  test('an abort before starting rejects with the abort reason', async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { f: 10 });
    const controller = new AbortController();
    controller.abort(new Error('stop now'));
    await assert.rejects(createTorrent(join(dir, 'f'), { signal: controller.signal }), /stop now/);
  });

  for (const threads of [1, 3]) {
    test(`an abort while hashing stops every thread and rejects (${threads} threads)`, async (t) => {
      const dir = await tempDir(t);
      await writeTree(dir, { f: 2 * MiB });
      const controller = new AbortController();
      let calls = 0;
      const result = createTorrent(join(dir, 'f'), {
        pieceLength: 16 * KiB,
        threads,
        signal: controller.signal,
        onProgress: () => {
          calls++;
          controller.abort(new Error('user cancelled'));
        },
      });
      await assert.rejects(result, /user cancelled/);
      assert.equal(calls, 1, 'no progress is reported after the abort');
    });
  }
});
