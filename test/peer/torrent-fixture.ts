/** A single-file test torrent with random content, written to a fresh temp folder (test-local, no src/creation). */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encode } from '../../src/bencode/index.js';

export interface TestTorrent {
  /** Temp root holding `data/<name>` and `test.torrent`; remove with cleanup(). */
  root: string;
  /** Folder holding the content file (a seeder's save path). */
  dataDir: string;
  torrentPath: string;
  name: string;
  data: Buffer;
  infoHash: Buffer;
  pieceLength: number;
  pieceCount: number;
  cleanup(): Promise<void>;
}

export async function makeTestTorrent(size: number, pieceLength: number): Promise<TestTorrent> {
  const root = await mkdtemp(path.join(tmpdir(), 'torrent-ts-peer-'));
  const name = 'content.bin';
  const data = randomBytes(size);
  const pieceCount = Math.ceil(size / pieceLength);
  const hashes: Buffer[] = [];
  for (let i = 0; i < pieceCount; i++) {
    hashes.push(createHash('sha1').update(data.subarray(i * pieceLength, (i + 1) * pieceLength)).digest());
  }
  const info = { length: size, name, 'piece length': pieceLength, pieces: Buffer.concat(hashes) };
  const infoHash = createHash('sha1').update(encode(info)).digest();
  const dataDir = path.join(root, 'data');
  await mkdir(dataDir);
  await writeFile(path.join(dataDir, name), data);
  const torrentPath = path.join(root, 'test.torrent');
  await writeFile(torrentPath, encode({ info }));
  return {
    root,
    dataDir,
    torrentPath,
    name,
    data,
    infoHash,
    pieceLength,
    pieceCount,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
