/**
 * Piece hashing in lanes (whole pieces four at a time, native SHA-1) and one piece at a time (node:crypto)
 * give the same pieces, for layouts where pieces cross files, padding files hold zeros and the last piece
 * is short.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hashPieces } from '../../src/creation/hash-pool.js';
import type { HashSource } from '../../src/creation/hash-job.js';
import { piecesOf } from '../metainfo/torrent-builder.js';
import { tempDir, writeTree } from './tree.js';

test('pieces hashed in lanes equal pieces hashed one at a time', async (t) => {
  const root = await tempDir(t);
  const sizes = { a: 3 * 65536 + 1000, b: 10, c: 700_000, d: 65536 * 9 + 4321 };
  const contents = await writeTree(root, sizes);
  // Files with a 5000-byte padding file (zeros, no path) between c and d.
  const parts: { path: string | null; data: Uint8Array }[] = [];
  for (const [name, data] of contents) {
    if (name === 'd') parts.push({ path: null, data: new Uint8Array(5000) });
    parts.push({ path: join(root, name), data });
  }
  const sources: HashSource[] = [];
  let offset = 0;
  for (const { path, data } of parts) {
    sources.push({ path, offset, length: data.length });
    offset += data.length;
  }
  const all = Buffer.concat(parts.map((p) => p.data));
  for (const pieceLength of [16384, 65536, 262144]) {
    const expected = piecesOf(all, pieceLength);
    for (const threads of [1, 2]) {
      for (const lanes of [true, false]) {
        const pieces = await hashPieces(sources, pieceLength, all.length, { threads, lanes });
        assert.deepEqual(Buffer.from(pieces), Buffer.from(expected), `piece length ${pieceLength}, ${threads} threads, lanes ${lanes}`);
      }
    }
  }
});
