import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  FileLayout,
  parseMetainfo,
  pieceHashAt,
  pieceLengthAt,
  type FileSpan,
  type Metainfo,
} from '../../src/metainfo/index.js';
import { bytes, multiInfo, piecesOf, singleInfo, torrent } from './torrent-builder.js';

describe('pieceLengthAt / pieceHashAt', () => {
  const data = bytes(40_000);
  const meta = parseMetainfo(torrent(singleInfo(data, 16384)));

  test('all pieces are full except the last', () => {
    assert.deepEqual(
      [0, 1, 2].map((i) => pieceLengthAt(meta, i)),
      [16384, 16384, 40_000 - 2 * 16384],
    );
  });

  test('an exact multiple ends in a full piece', () => {
    const exact = parseMetainfo(torrent(singleInfo(bytes(32768), 16384)));
    assert.equal(pieceLengthAt(exact, 1), 16384);
  });

  test('hashes are the 20-byte slices of pieces', () => {
    const expected = piecesOf(data, 16384);
    for (let i = 0; i < 3; i++) assert.deepEqual(pieceHashAt(meta, i), expected.subarray(i * 20, i * 20 + 20));
  });

  test('out-of-range indices throw RangeError', () => {
    for (const bad of [-1, 3, 1.5, NaN]) {
      assert.throws(() => pieceLengthAt(meta, bad), RangeError);
      assert.throws(() => pieceHashAt(meta, bad), RangeError);
    }
  });
});

function layoutOf(lengths: number[], pieceLength: number, paddingAt: number[] = []): Metainfo {
  return parseMetainfo(
    torrent(
      multiInfo(
        lengths.map((length, i) => ({
          path: paddingAt.includes(i) ? ['.pad', String(length)] : [`f${i}`],
          length,
          attr: paddingAt.includes(i) ? 'p' : undefined,
        })),
        pieceLength,
      ),
    ),
  );
}

describe('FileLayout', () => {
  test('a range across files, skipping zero-length ones', () => {
    const meta = layoutOf([100, 0, 50, 0, 0, 200], 16384);
    const layout = new FileLayout(meta);
    assert.deepEqual(layout.spans(90, 100), [
      { fileIndex: 0, fileOffset: 90, length: 10, bufferOffset: 0 },
      { fileIndex: 2, fileOffset: 0, length: 50, bufferOffset: 10 },
      { fileIndex: 5, fileOffset: 0, length: 40, bufferOffset: 60 },
    ]);
    assert.deepEqual(layout.spans(150, 10), [{ fileIndex: 5, fileOffset: 0, length: 10, bufferOffset: 0 }]);
    assert.deepEqual(layout.spans(349, 1), [{ fileIndex: 5, fileOffset: 199, length: 1, bufferOffset: 0 }]);
    assert.deepEqual(layout.spans(350, 0), []);
  });

  test('padding files appear in spans and are marked in meta.files', () => {
    const meta = layoutOf([10, 16374, 20], 16384, [1]);
    const spans = new FileLayout(meta).pieceSpans(0);
    assert.deepEqual(
      spans.map((s) => [s.fileIndex, meta.files[s.fileIndex].padding]),
      [
        [0, false],
        [1, true],
      ],
    );
    assert.deepEqual(new FileLayout(meta).pieceSpans(1), [{ fileIndex: 2, fileOffset: 0, length: 20, bufferOffset: 0 }]);
  });

  test('ranges outside the torrent throw RangeError', () => {
    const layout = new FileLayout(layoutOf([100], 16384));
    assert.throws(() => layout.spans(-1, 5), RangeError);
    assert.throws(() => layout.spans(90, 11), RangeError);
    assert.throws(() => layout.spans(0.5, 1), RangeError);
    assert.throws(() => layout.pieceSpans(1), RangeError);
  });

  test('10,000 files: a lookup near the end is found', () => {
    const meta = layoutOf(
      Array.from({ length: 10_000 }, () => 3),
      16384,
    );
    const layout = new FileLayout(meta);
    assert.deepEqual(layout.spans(29_995, 5), [
      { fileIndex: 9998, fileOffset: 1, length: 2, bufferOffset: 0 },
      { fileIndex: 9999, fileOffset: 0, length: 3, bufferOffset: 2 },
    ]);
  });

  /** The owner of each byte, found the slow way. */
  function ownerOf(meta: Metainfo, offset: number): [number, number] {
    for (let i = 0; i < meta.files.length; i++) {
      const f = meta.files[i];
      if (offset >= f.offset && offset < f.offset + f.length) return [i, offset - f.offset];
    }
    throw new Error(`no file holds byte ${offset}`);
  }

  test('property: spans cover exactly the requested range, byte for byte', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 12 }).filter((l) => l.some((n) => n > 0)),
        fc.integer({ min: 1, max: 5000 }),
        fc.nat(),
        fc.nat(),
        (lengths, pieceLength, a, b) => {
          const meta = layoutOf(lengths, pieceLength);
          const total = meta.totalLength;
          const start = a % total;
          const length = b % (total - start + 1);
          const spans: FileSpan[] = new FileLayout(meta).spans(start, length);
          assert.equal(
            spans.reduce((n, s) => n + s.length, 0),
            length,
          );
          let expectedBufferOffset = 0;
          for (const s of spans) {
            assert.ok(s.length > 0);
            assert.equal(s.bufferOffset, expectedBufferOffset);
            assert.ok(s.fileOffset + s.length <= meta.files[s.fileIndex].length);
            for (const at of [0, s.length - 1]) {
              assert.deepEqual(ownerOf(meta, start + s.bufferOffset + at), [s.fileIndex, s.fileOffset + at]);
            }
            expectedBufferOffset += s.length;
          }
          for (let i = 1; i < spans.length; i++) {
            assert.ok(spans[i].fileIndex > spans[i - 1].fileIndex);
            assert.equal(spans[i].fileOffset, 0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('property: piece spans tile the whole torrent', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 12 }).filter((l) => l.some((n) => n > 0)),
        fc.integer({ min: 1, max: 5000 }),
        (lengths, pieceLength) => {
          const meta = layoutOf(lengths, pieceLength);
          const layout = new FileLayout(meta);
          const perFile = new Array<number>(meta.files.length).fill(0);
          for (let p = 0; p < meta.pieceCount; p++) {
            const spans = layout.pieceSpans(p);
            assert.equal(
              spans.reduce((n, s) => n + s.length, 0),
              pieceLengthAt(meta, p),
            );
            for (const s of spans) {
              assert.equal(s.fileOffset, perFile[s.fileIndex]);
              perFile[s.fileIndex] += s.length;
            }
          }
          assert.deepEqual(
            perFile,
            meta.files.map((f) => f.length),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
