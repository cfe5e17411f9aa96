import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { encode } from '../../src/bencode/index.js';
import { MetainfoError, parseMetainfo, UnsafePathError } from '../../src/metainfo/index.js';
import { bytes, multiInfo, piecesOf, sha1, singleInfo, torrent } from './torrent-builder.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('parseMetainfo: single-file', () => {
  const data = bytes(40_000);
  const buf = torrent(singleInfo(data, 16384, 'movie.mkv'), {
    comment: 'a comment',
    'created by': 'test builder',
    'creation date': 1_700_000_000,
  });
  const meta = parseMetainfo(buf);

  test('reads name, sizes and files', () => {
    assert.equal(meta.name, 'movie.mkv');
    assert.equal(meta.multiFile, false);
    assert.equal(meta.pieceLength, 16384);
    assert.equal(meta.pieceCount, 3);
    assert.equal(meta.totalLength, 40_000);
    assert.deepEqual(meta.files, [{ path: ['movie.mkv'], length: 40_000, offset: 0, padding: false }]);
    assert.equal(meta.private, false);
  });

  test('piece hashes are the pieces field', () => {
    assert.deepEqual(meta.pieceHashes, piecesOf(data, 16384));
  });

  test('info-hash is SHA-1 of the encoded info dictionary', () => {
    const info = encode(singleInfo(data, 16384, 'movie.mkv'));
    assert.deepEqual(meta.infoBytes, info);
    assert.deepEqual(meta.infoHash, sha1(info));
    assert.equal(meta.infoHashHex, hex(sha1(info)));
  });

  test('reads comment, created by and creation date', () => {
    assert.equal(meta.comment, 'a comment');
    assert.equal(meta.createdBy, 'test builder');
    assert.equal(meta.creationDate?.getTime(), 1_700_000_000_000);
  });

  test('a plain announce becomes one tier', () => {
    assert.deepEqual(meta.announceTiers, [['http://127.0.0.1:1/announce']]);
    assert.deepEqual(meta.webSeeds, []);
  });

  test('results do not alias the input buffer', () => {
    const copy = Uint8Array.from(buf);
    const parsed = parseMetainfo(copy);
    copy.fill(0);
    assert.deepEqual(parsed.pieceHashes, piecesOf(data, 16384));
    assert.deepEqual(parsed.infoHash, meta.infoHash);
  });
});

describe('parseMetainfo: multi-file', () => {
  test('paths start with the name and offsets accumulate', () => {
    const meta = parseMetainfo(
      torrent(
        multiInfo([
          { path: ['a.txt'], length: 100 },
          { path: ['sub', 'empty'], length: 0 },
          { path: ['sub', 'deeper', 'b.bin'], length: 20_000 },
        ]),
      ),
    );
    assert.equal(meta.multiFile, true);
    assert.equal(meta.name, 'folder');
    assert.equal(meta.totalLength, 20_100);
    assert.equal(meta.pieceCount, 2);
    assert.deepEqual(meta.files, [
      { path: ['folder', 'a.txt'], length: 100, offset: 0, padding: false },
      { path: ['folder', 'sub', 'empty'], length: 0, offset: 100, padding: false },
      { path: ['folder', 'sub', 'deeper', 'b.bin'], length: 20_000, offset: 100, padding: false },
    ]);
  });

  test('BEP 47 padding files are marked, and may share a path', () => {
    const meta = parseMetainfo(
      torrent(
        multiInfo([
          { path: ['a'], length: 10 },
          { path: ['.pad', '16374'], length: 16374, attr: 'p' },
          { path: ['b'], length: 10 },
          { path: ['.pad', '16374'], length: 16374, attr: 'px' },
          { path: ['c'], length: 10, attr: 'x' },
        ]),
      ),
    );
    assert.deepEqual(
      meta.files.map((f) => f.padding),
      [false, true, false, true, false],
    );
    assert.equal(meta.files[4].offset, 32768);
  });

  test('name.utf-8 and path.utf-8 are preferred', () => {
    const info = multiInfo([{ path: ['legacy'], length: 5 }], 16384, 'legacy-name');
    info['name.utf-8'] = 'Grüße';
    info.files = [{ length: 5, path: ['legacy'], 'path.utf-8': ['ünï', 'cødé.txt'] }];
    const meta = parseMetainfo(torrent(info));
    assert.equal(meta.name, 'Grüße');
    assert.deepEqual(meta.files[0].path, ['Grüße', 'ünï', 'cødé.txt']);
  });

  test('private=1 marks a private torrent; other values do not', () => {
    const info = singleInfo(bytes(10));
    assert.equal(parseMetainfo(torrent({ ...info, private: 1 })).private, true);
    assert.equal(parseMetainfo(torrent({ ...info, private: 0 })).private, false);
  });
});

describe('parseMetainfo: trackers and web seeds', () => {
  const info = singleInfo(bytes(10));

  test('announce-list tiers win over announce, duplicates and empty tiers dropped', () => {
    const meta = parseMetainfo(
      torrent(info, {
        announce: 'http://127.0.0.1:9/ignored',
        'announce-list': [
          ['http://127.0.0.1:1/a', 'udp://127.0.0.1:2', 'http://127.0.0.1:1/a'],
          [],
          ['udp://127.0.0.1:2', ' http://127.0.0.1:3/b '],
          [''],
        ],
      }),
    );
    assert.deepEqual(meta.announceTiers, [['http://127.0.0.1:1/a', 'udp://127.0.0.1:2'], ['http://127.0.0.1:3/b']]);
  });

  test('an announce-list without usable URLs falls back to announce', () => {
    const meta = parseMetainfo(torrent(info, { 'announce-list': [[]] }));
    assert.deepEqual(meta.announceTiers, [['http://127.0.0.1:1/announce']]);
  });

  test('no trackers at all is allowed (DHT/magnet-style torrents)', () => {
    const buf = encode({ info });
    assert.deepEqual(parseMetainfo(buf).announceTiers, []);
  });

  test('url-list as a single string', () => {
    const meta = parseMetainfo(torrent(info, { 'url-list': 'http://127.0.0.1:8/files/' }));
    assert.deepEqual(meta.webSeeds, ['http://127.0.0.1:8/files/']);
  });

  test('url-list as a list; wrong-typed entries skipped', () => {
    const meta = parseMetainfo(
      torrent(info, { 'url-list': ['http://127.0.0.1:8/a', 5, 'http://127.0.0.1:8/b', 'http://127.0.0.1:8/a'] }),
    );
    assert.deepEqual(meta.webSeeds, ['http://127.0.0.1:8/a', 'http://127.0.0.1:8/b']);
  });

  test('wrong-typed advisory fields are ignored', () => {
    const meta = parseMetainfo(
      torrent(info, { announce: 7, 'announce-list': 'nope', comment: 1, 'created by': [], 'creation date': 'x' }),
    );
    assert.deepEqual(meta.announceTiers, []);
    assert.equal(meta.comment, undefined);
    assert.equal(meta.createdBy, undefined);
    assert.equal(meta.creationDate, undefined);
  });
});

describe('parseMetainfo: the info-hash covers the raw info bytes', () => {
  test('an info dictionary with unsorted keys hashes as written, not re-encoded', () => {
    const pieces = piecesOf(new Uint8Array(5), 16384);
    const infoRaw = Buffer.concat([
      Buffer.from('d6:pieces20:'),
      pieces,
      Buffer.from('4:name1:x6:lengthi5e12:piece lengthi16384ee'),
    ]);
    const buf = Buffer.concat([Buffer.from('d4:info'), infoRaw, Buffer.from('e')]);
    const meta = parseMetainfo(buf);
    assert.equal(meta.infoHashHex, createHash('sha1').update(infoRaw).digest('hex'));
    assert.deepEqual(meta.infoBytes, new Uint8Array(infoRaw));
    const reencoded = encode({ length: 5, name: 'x', 'piece length': 16384, pieces });
    assert.notEqual(meta.infoHashHex, hex(sha1(reencoded)));
    assert.deepEqual(meta.pieceHashes, pieces);
  });
});

function rejects(
  buf: Uint8Array,
  pattern: RegExp,
  kind: abstract new (...args: never[]) => MetainfoError = MetainfoError,
): MetainfoError {
  let caught: unknown;
  try {
    parseMetainfo(buf);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof kind, `expected ${kind.name}, got ${String(caught)}`);
  assert.match(caught.message, pattern);
  return caught;
}

describe('parseMetainfo: rejections', () => {
  const data = bytes(40_000);
  const good = singleInfo(data);

  test('malformed bencode reports the byte offset', () => {
    const err = rejects(new TextEncoder().encode('d4:infod4:name3:abe'), /^malformed torrent at byte \d+: /);
    assert.equal(typeof err.offset, 'number');
    const trailing = Buffer.concat([torrent(good), Buffer.from('x')]);
    assert.equal(rejects(trailing, /trailing data/).offset, trailing.length - 1);
  });

  test('top level and info must be dictionaries', () => {
    rejects(encode(['not', 'a', 'dict']), /top level is not a dictionary/);
    rejects(encode({ announce: 'x' }), /no "info" dictionary/);
    rejects(encode({ info: 'text' }), /"info" is not a dictionary/);
  });

  test('missing or wrong-typed required fields are named', () => {
    rejects(torrent({ ...good, pieces: undefined }), /no "pieces"/);
    rejects(torrent({ ...good, pieces: 5 }), /"pieces" is not a byte string/);
    rejects(torrent({ ...good, name: undefined }), /no "name"/);
    rejects(torrent({ ...good, 'piece length': undefined }), /no "piece length"/);
    rejects(torrent({ ...good, 'piece length': '16384' }), /"piece length" is not an integer/);
    rejects(torrent({ ...good, length: '5' }), /"length" is not an integer/);
    rejects(torrent({ ...good, files: [] }), /both "length" and "files"/);
    rejects(torrent({ ...good, length: undefined }), /neither "length".*nor "files"/);
  });

  test('v2-only torrents are refused with a clear message', () => {
    rejects(torrent({ name: 'x', 'piece length': 16384, 'meta version': 2, 'file tree': {} }), /v2-only/);
  });

  test('piece length must be positive and sane', () => {
    rejects(torrent({ ...good, 'piece length': 0 }), /piece length 0 is not positive/);
    rejects(torrent({ ...good, 'piece length': -16384 }), /not positive/);
    rejects(torrent({ ...good, 'piece length': 512 * 1024 * 1024 }), /larger than the supported/);
  });

  test('pieces must be whole hashes, one per piece', () => {
    rejects(torrent({ ...good, pieces: new Uint8Array(59) }), /59 bytes, not a multiple of 20/);
    rejects(torrent({ ...good, pieces: new Uint8Array(40) }), /holds 2 hashes but .* need 3/);
    rejects(torrent({ ...good, pieces: new Uint8Array(80) }), /holds 4 hashes but .* need 3/);
  });

  test('file lengths must be non-negative and the total non-zero', () => {
    rejects(torrent({ ...good, length: -1, pieces: new Uint8Array(0) }), /"length" is negative/);
    rejects(torrent({ ...good, length: 0, pieces: new Uint8Array(0) }), /holds no data/);
    rejects(torrent(multiInfo([{ path: ['a'], length: 0 }])), /holds no data/);
    const info = multiInfo([{ path: ['a'], length: 5 }]);
    info.files = [{ length: -5, path: ['a'] }];
    rejects(torrent(info), /info\.files\[0\] "length" is negative/);
  });

  test('hostile sizes fail fast with a clear error', () => {
    // 1 TiB in 16 KiB pieces would need 2^26 hashes: refused before anything per-piece is allocated.
    rejects(torrent({ ...good, length: 2 ** 40, pieces: new Uint8Array(20) }), /67108864 pieces .* more than/);
    rejects(torrent({ ...good, length: 2 ** 52, pieces: new Uint8Array(20) }), /larger than the supported/);
    const files = Array.from({ length: 3 }, (_, i) => ({ length: 2 ** 49 + 1, path: [`f${i}`] }));
    rejects(torrent({ ...multiInfo([{ path: ['a'], length: 1 }]), files }), /larger than the supported/);
  });

  test('malformed file entries are named by index', () => {
    const base = multiInfo([{ path: ['a'], length: 5 }]);
    rejects(torrent({ ...base, files: [] }), /"files" is empty/);
    rejects(torrent({ ...base, files: ['x'] }), /info\.files\[0\] is not a dictionary/);
    rejects(torrent({ ...base, files: [{ length: 5 }] }), /info\.files\[0\] has no "path"/);
    rejects(torrent({ ...base, files: [{ length: 5, path: [] }] }), /info\.files\[0\] has an empty "path"/);
    rejects(torrent({ ...base, files: [{ length: 5, path: [3] }] }), /"path" element 0 is not a byte string/);
    rejects(torrent({ ...base, files: [{ path: ['a'] }] }), /info\.files\[0\] "length" is missing/);
  });
});

describe('parseMetainfo: unsafe paths', () => {
  const unsafe: [string, RegExp][] = [
    ['..', /refers to a directory/],
    ['.', /refers to a directory/],
    ['', /empty path segment/],
    ['a/b', /contains "\/"/],
    ['/etc', /contains "\/"/],
    ['a\\b', /contains "\\"/],
    ['\\\\server', /contains "\\"/],
    ['a\0b', /NUL/],
    ['C:', /drive letter/],
    ['c:evil', /drive letter/],
  ];

  for (const [segment, reason] of unsafe) {
    const shown = JSON.stringify(segment);
    test(`name ${shown} is refused`, () => {
      const err = rejects(torrent(singleInfo(bytes(5), 16384, segment)), reason, UnsafePathError);
      assert.equal((err as UnsafePathError).path, segment);
    });

    test(`path segment ${shown} is refused, naming the path`, () => {
      const info = multiInfo([{ path: ['ok', segment, 'file'], length: 5 }]);
      const err = rejects(torrent(info), reason, UnsafePathError);
      assert.equal((err as UnsafePathError).path, `folder/ok/${segment}/file`);
      assert.match(err.message, /^unsafe path "/);
    });
  }

  test('an unsafe path.utf-8 is refused even when path is safe', () => {
    const info = multiInfo([{ path: ['a'], length: 5 }]);
    info.files = [{ length: 5, path: ['safe'], 'path.utf-8': ['..', 'x'] }];
    rejects(torrent(info), /refers to a directory/, UnsafePathError);
  });

  test('two files with the same path are refused', () => {
    const info = multiInfo([
      { path: ['a', 'b'], length: 5 },
      { path: ['a', 'b'], length: 5 },
    ]);
    rejects(torrent(info), /"folder\/a\/b".*two files have this path/, UnsafePathError);
  });

  test('a path that is both a file and a folder is refused, in either order', () => {
    const fileFirst = multiInfo([
      { path: ['a'], length: 5 },
      { path: ['a', 'b'], length: 5 },
    ]);
    rejects(torrent(fileFirst), /both a file and a folder/, UnsafePathError);
    const folderFirst = multiInfo([
      { path: ['a', 'b'], length: 5 },
      { path: ['a'], length: 5 },
    ]);
    rejects(torrent(folderFirst), /both a file and a folder/, UnsafePathError);
  });
});
