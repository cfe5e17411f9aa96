/**
 * Our torrents against other creators and clients, on the same files:
 * - mktorrent: identical info-hash (same file order: sorted by path bytes).
 * - libtorrent: identical info-hash. Its add_files() keeps directory-listing order, so for plain torrents
 *   the test hands libtorrent our file order explicitly; for padded torrents libtorrent's own canonical order
 *   (sorted per path segment) is used, on a tree where both orders agree.
 * - aria2: accepts the torrent.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { createTorrent } from '../../src/creation/index.js';
import { parseMetainfo } from '../../src/metainfo/index.js';
import { commandWorks, DEBIAN_PYTHON, needLibtorrent, requireProgram } from '../support/interop.js';
import { tempDir, writeTree } from './tree.js';

const KiB = 1024;

const needMktorrent = () => requireProgram('mktorrent', commandWorks('mktorrent', ['-h']), 'apt-get install mktorrent');
const needAria2 = () => requireProgram('aria2c', commandWorks('aria2c', ['--version']), 'apt-get install aria2');

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The info-hash of mktorrent's torrent for `input`. */
async function mktorrentInfoHash(input: string, pieceLength: number, out: string): Promise<string> {
  run('mktorrent', ['-l', String(Math.log2(pieceLength)), '-a', 'http://127.0.0.1:1/announce', '-o', out, input]);
  return parseMetainfo(await readFile(out)).infoHashHex;
}

/**
 * Prints libtorrent's v1 info-hash for `input`. Mode "ordered" adds `files` (relative to input) in the
 * given order; "canonical" lets libtorrent list the folder and pad it (BEP 47) without tail padding;
 * "auto" is add_files() as is (single files).
 */
const LIBTORRENT_SCRIPT = `
import os, sys, libtorrent as lt
input, piece_length, mode, files = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
fs = lt.file_storage()
flags = lt.create_torrent.v1_only
if mode == 'ordered':
    name = os.path.basename(input)
    for rel in files:
        fs.add_file(os.path.join(name, rel), os.path.getsize(os.path.join(input, rel)))
else:
    lt.add_files(fs, input)
    if mode == 'canonical':
        flags |= lt.create_torrent.canonical_files_no_tail_padding
ct = lt.create_torrent(fs, piece_length, flags=flags)
lt.set_piece_hashes(ct, os.path.dirname(input))
print(lt.torrent_info(lt.bencode(ct.generate())).info_hash())
`;

function libtorrentInfoHash(input: string, pieceLength: number, mode: string, files: string[] = []): string {
  return run(DEBIAN_PYTHON, ['-W', 'ignore', '-c', LIBTORRENT_SCRIPT, input, String(pieceLength), mode, ...files]).trim();
}

const NESTED = {
  'sub/deeper/y.bin': 50_000,
  'sub/x.bin': 100_000,
  'a.b/z': 7,
  'a.txt': 3000,
  'B': 10,
  'empty': 0,
  'zz/last': 40_000,
};

describe('interop: mktorrent', () => {
  test('single file: same info-hash', { skip: needMktorrent() }, async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { 'movie.bin': 300_000 });
    const ours = await createTorrent(join(dir, 'movie.bin'), { pieceLength: 32 * KiB });
    assert.equal(ours.meta.infoHashHex, await mktorrentInfoHash(join(dir, 'movie.bin'), 32 * KiB, join(dir, 'mk.torrent')));
  });

  test('nested folder: same info-hash and file order', { skip: needMktorrent() }, async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, 'nested');
    await writeTree(root, { ...NESTED, 'a-x': 3, 'a/b': 4 });
    const ours = await createTorrent(root, { pieceLength: 32 * KiB });
    const out = join(dir, 'mk.torrent');
    assert.equal(ours.meta.infoHashHex, await mktorrentInfoHash(root, 32 * KiB, out));
    const theirs = parseMetainfo(await readFile(out));
    assert.deepEqual(theirs.files, ours.meta.files);
  });

  test('hidden files included: same info-hash (mktorrent always includes them)', { skip: needMktorrent() }, async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, 'withhidden');
    await writeTree(root, { '.hidden': 20, 'sub/.config/x': 30_000, visible: 5000 });
    const ours = await createTorrent(root, { pieceLength: 32 * KiB, includeHidden: true });
    assert.equal(ours.meta.files.length, 3);
    assert.equal(ours.meta.infoHashHex, await mktorrentInfoHash(root, 32 * KiB, join(dir, 'mk.torrent')));
  });
});

describe('interop: libtorrent', () => {
  test('single file: same info-hash', { skip: needLibtorrent() }, async (t) => {
    const dir = await tempDir(t);
    await writeTree(dir, { 'one.bin': 123_456 });
    const ours = await createTorrent(join(dir, 'one.bin'), { pieceLength: 16 * KiB });
    assert.equal(ours.meta.infoHashHex, libtorrentInfoHash(join(dir, 'one.bin'), 16 * KiB, 'auto'));
  });

  test('nested folder in our order: same info-hash', { skip: needLibtorrent() }, async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, 'nested');
    await writeTree(root, NESTED);
    const ours = await createTorrent(root, { pieceLength: 16 * KiB });
    const order = ours.meta.files.map((f) => f.path.slice(1).join('/'));
    assert.equal(ours.meta.infoHashHex, libtorrentInfoHash(root, 16 * KiB, 'ordered', order));
  });

  test('padded folder: same info-hash as libtorrent canonical files without tail padding', { skip: needLibtorrent() }, async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, 'padded');
    await writeTree(root, NESTED);
    const ours = await createTorrent(root, { pieceLength: 16 * KiB, pad: true });
    assert.ok(ours.meta.files.some((f) => f.padding));
    assert.equal(ours.meta.infoHashHex, libtorrentInfoHash(root, 16 * KiB, 'canonical'));
  });
});

describe('interop: aria2', () => {
  test('aria2c lists the files of our torrent', { skip: needAria2() }, async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, 'forAria');
    await writeTree(root, NESTED);
    const { torrent } = await createTorrent(root, {
      pieceLength: 16 * KiB,
      pad: true,
      announce: ['http://127.0.0.1:1/announce'],
      webSeeds: ['http://127.0.0.1:8/'],
    });
    const file = join(dirname(root), 'ours.torrent');
    await writeFile(file, torrent);
    const listing = run('aria2c', ['--show-files', file]);
    for (const name of ['forAria/sub/deeper/y.bin', 'forAria/a.b/z', 'forAria/zz/last']) {
      assert.ok(listing.includes(name), `aria2c listing lacks ${name}:\n${listing}`);
    }
  });
});
