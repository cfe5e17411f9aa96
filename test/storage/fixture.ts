/** Hand-built torrents with known content for the storage tests (no dependency on the metainfo parser). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Metainfo, TorrentFile } from '../../src/metainfo/types.js';
import { handBuiltMetainfo } from '../support/hand-built-metainfo.js';

export interface FileSpec {
  path: string[];
  length: number;
  padding?: boolean;
}

export interface TestTorrent {
  meta: Metainfo;
  /** The torrent's concatenated data (zeros in padding files). */
  data: Buffer;
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function makeTorrent(name: string, specs: FileSpec[], pieceLength: number, seed = 1): TestTorrent {
  const files: TorrentFile[] = [];
  let offset = 0;
  for (const s of specs) {
    files.push({ path: s.path, length: s.length, offset, padding: s.padding ?? false });
    offset += s.length;
  }
  const data = pseudoRandomBytes(offset, seed);
  for (const f of files) if (f.padding) data.fill(0, f.offset, f.offset + f.length);
  const multiFile = specs.length !== 1 || specs[0].path.length !== 1;
  const meta = handBuiltMetainfo(name, multiFile, files, data, pieceLength, `${name}:${seed}`);
  return { meta, data };
}

/** A fresh folder under the system temp dir, removed when the test ends. */
export async function tempDir(t: TestContext, label = 'storage'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `torrent-ts-${label}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface Block {
  piece: number;
  begin: number;
  length: number;
}

/** Every block of every piece, in order. */
export function blocksOf(meta: Metainfo, blockSize: number): Block[] {
  const out: Block[] = [];
  for (let piece = 0; piece < meta.pieceCount; piece++) {
    const size = Math.min(meta.pieceLength, meta.totalLength - piece * meta.pieceLength);
    for (let begin = 0; begin < size; begin += blockSize) out.push({ piece, begin, length: Math.min(blockSize, size - begin) });
  }
  return out;
}

export function blockData(t: TestTorrent, b: Block): Buffer {
  const start = b.piece * t.meta.pieceLength + b.begin;
  return t.data.subarray(start, start + b.length);
}

/** Seeded Fisher–Yates shuffle (a copy). */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rnd = pseudoRandomBytes(out.length * 4, seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = rnd.readUInt32LE(i * 4) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
