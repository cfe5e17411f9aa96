/** Untrusted .torrent bytes may be rejected, but only ever with a MetainfoError, and always promptly. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { encode, type EncodableValue } from '../../src/bencode/index.js';
import { FileLayout, MetainfoError, parseMetainfo, pieceHashAt } from '../../src/metainfo/index.js';
import { bytes, multiInfo, singleInfo, torrent } from './torrent-builder.js';

/** Parses, and on success exercises the result; anything but a MetainfoError fails the property. */
function parseOrReject(buf: Uint8Array): void {
  let meta;
  try {
    meta = parseMetainfo(buf);
  } catch (err) {
    if (err instanceof MetainfoError) return;
    throw err;
  }
  assert.equal(meta.pieceHashes.length, meta.pieceCount * 20);
  pieceHashAt(meta, meta.pieceCount - 1);
  new FileLayout(meta).pieceSpans(meta.pieceCount - 1);
}

const validTorrents: Uint8Array[] = [
  torrent(singleInfo(bytes(5000), 16384, 'one.bin'), { 'url-list': ['http://127.0.0.1:8/'] }),
  torrent(
    multiInfo([
      { path: ['a', 'b.txt'], length: 3000 },
      { path: ['.pad', '13384'], length: 13384, attr: 'p' },
      { path: ['c'], length: 0 },
      { path: ['d'], length: 20_000 },
    ]),
    { 'announce-list': [['http://127.0.0.1:1/a'], ['udp://127.0.0.1:2']], private: 1 },
  ),
];

const TIMEOUT = { timeout: 120_000 };

describe('parseMetainfo never crashes on hostile input', () => {
  test('random bytes', TIMEOUT, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), parseOrReject), { numRuns: 2000 });
  });

  test('random bytes behind a valid-looking prefix', TIMEOUT, () => {
    const prefix = new TextEncoder().encode('d8:announce5:x:y:z4:infod');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (tail) => parseOrReject(Buffer.concat([prefix, tail]))),
      { numRuns: 1000 },
    );
  });

  test('valid torrents with bytes flipped, cut or inserted', TIMEOUT, () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), value: fc.nat({ max: 64 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...validTorrents),
        fc.array(mutation, { minLength: 1, maxLength: 8 }),
        (original, mutations) => {
          let buf = Buffer.from(original);
          for (const m of mutations) {
            const at = m.at % (buf.length + 1);
            if (m.kind === 'set' && at < buf.length) buf[at] = m.value;
            else if (m.kind === 'cut') buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.value)]);
            else buf = Buffer.concat([buf.subarray(0, at), Buffer.of(m.value), buf.subarray(at)]);
          }
          parseOrReject(buf);
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('well-formed bencode with arbitrary values in every field', TIMEOUT, () => {
    const { value } = fc.letrec<{ value: EncodableValue }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
        fc.constantFrom(0, 1, 2, -1, 16384, 2 ** 40),
        fc.string({ maxLength: 8 }),
        fc.constantFrom('..', '', 'a/b', 'p', 'C:'),
        fc.uint8Array({ maxLength: 60 }),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.constantFrom('length', 'path', 'attr', 'path.utf-8', 'x'), tie('value'), { maxKeys: 4 }),
      ),
    }));
    const fileEntry = fc.record(
      { length: value, path: value, attr: value, 'path.utf-8': value },
      { requiredKeys: [] },
    );
    const info = fc.record(
      {
        name: value,
        'name.utf-8': value,
        'piece length': value,
        pieces: value,
        length: value,
        files: fc.oneof(value, fc.array(fileEntry, { maxLength: 4 })),
        private: value,
        'meta version': value,
      },
      { requiredKeys: [] },
    );
    const root = fc.record(
      {
        announce: value,
        'announce-list': value,
        'url-list': value,
        comment: value,
        'creation date': value,
        info: fc.oneof(info, value),
      },
      { requiredKeys: [] },
    );
    fc.assert(fc.property(root, (doc) => parseOrReject(encode(doc as EncodableValue))), { numRuns: 3000 });
  });
});
