import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PieceLayout } from '../../src/storage/index.js';
import { makeTorrent } from './fixture.js';

test('property: spans match a byte-by-byte walk over the files', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 12 }).filter((ls) => ls.some((l) => l > 0)),
      fc.integer({ min: 1, max: 64 }),
      fc.nat(),
      fc.nat(),
      (lengths, pieceLength, a, b) => {
        const { meta } = makeTorrent('x', lengths.map((length, i) => ({ path: ['x', `f${i}`], length })), pieceLength);
        const layout = new PieceLayout(meta);
        const offset = a % meta.totalLength;
        const length = b % (meta.totalLength - offset + 1);
        const spans = layout.spans(offset, length);

        // Expected: for each byte, the file holding it (zero-length files hold none).
        const expected: { fileIndex: number; fileOffset: number }[] = [];
        for (let at = offset; at < offset + length; at++) {
          const fileIndex = meta.files.findIndex((f) => at >= f.offset && at < f.offset + f.length);
          expected.push({ fileIndex, fileOffset: at - meta.files[fileIndex].offset });
        }
        const actual: { fileIndex: number; fileOffset: number }[] = [];
        let covered = 0;
        for (const s of spans) {
          assert.ok(s.length > 0);
          assert.equal(s.bufferOffset, covered);
          for (let k = 0; k < s.length; k++) actual.push({ fileIndex: s.fileIndex, fileOffset: s.fileOffset + k });
          covered += s.length;
        }
        assert.deepEqual(actual, expected);
      },
    ),
  );
});

test('piece sizes, file piece ranges, and inconsistent metainfo refused', () => {
  const { meta } = makeTorrent('x', [{ path: ['x', 'a'], length: 10 }, { path: ['x', 'e'], length: 0 }, { path: ['x', 'b'], length: 25 }], 16);
  const layout = new PieceLayout(meta);
  assert.deepEqual([0, 1, 2].map((p) => layout.pieceSize(p)), [16, 16, 3]);
  assert.throws(() => layout.pieceSize(3), RangeError);
  assert.deepEqual(layout.piecesOfFile(0), { first: 0, last: 0 });
  assert.equal(layout.piecesOfFile(1), undefined);
  assert.deepEqual(layout.piecesOfFile(2), { first: 0, last: 2 });
  assert.throws(() => layout.pieceSpans(2, 0, 4), RangeError);

  assert.throws(() => new PieceLayout({ ...meta, totalLength: 36 }), RangeError);
  assert.throws(() => new PieceLayout({ ...meta, pieceCount: 2 }), RangeError);
  assert.throws(() => new PieceLayout({ ...meta, files: [meta.files[0], { ...meta.files[2], offset: 11 }] }), RangeError);
  assert.throws(() => new PieceLayout({ ...meta, pieceHashes: meta.pieceHashes.subarray(20) }), RangeError);
});
