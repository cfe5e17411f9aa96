/** Builds .torrent bytes for tests, with real piece hashes of the given data. */
import { createHash } from 'node:crypto';
import { encode, type EncodableValue } from '../../src/bencode/index.js';

export type Dict = { [key: string]: EncodableValue | undefined };

export function sha1(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(data).digest());
}

/** BEP 3 `pieces` for `data`: SHA-1 of each pieceLength slice, concatenated. */
export function piecesOf(data: Uint8Array, pieceLength: number): Uint8Array {
  const count = Math.ceil(data.length / pieceLength);
  const out = new Uint8Array(count * 20);
  for (let i = 0; i < count; i++) out.set(sha1(data.subarray(i * pieceLength, (i + 1) * pieceLength)), i * 20);
  return out;
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function bytes(length: number, seed = 1): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = (seed * 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, length);
}

export function singleInfo(data: Uint8Array, pieceLength = 16384, name = 'file.bin'): Dict {
  return { name, 'piece length': pieceLength, pieces: piecesOf(data, pieceLength), length: data.length };
}

export interface FileSpec {
  path: string[];
  length: number;
  attr?: string;
}

/** A multi-file info dictionary; piece hashes are of zero bytes unless `data` is given. */
export function multiInfo(files: FileSpec[], pieceLength = 16384, name = 'folder', data?: Uint8Array): Dict {
  const total = files.reduce((n, f) => n + f.length, 0);
  return {
    name,
    'piece length': pieceLength,
    pieces: piecesOf(data ?? new Uint8Array(total), pieceLength),
    files: files.map((f) => ({ length: f.length, path: f.path, attr: f.attr })),
  };
}

export function torrent(info: Dict, outer: Dict = {}): Uint8Array {
  return encode({ announce: 'http://127.0.0.1:1/announce', ...outer, info });
}
