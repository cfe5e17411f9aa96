import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { TorrentFile } from '../../src/metainfo/types.js';
import { encodePathSegment, parseWebSeedList, webSeedFileUrls } from '../../src/webseed/url.js';

function file(path: string[], length = 1, padding = false): TorrentFile {
  return { path, length, offset: 0, padding };
}

const single = { multiFile: false, files: [file(['movie.mkv'])] };
const multi = { multiFile: true, files: [file(['album', 'cd1', 'track 01.flac']), file(['album', 'cover.jpg'])] };

test('single-file: a URL ending in / is a folder holding the file', () => {
  assert.deepEqual(webSeedFileUrls('http://mirror.example/pub/', single), ['http://mirror.example/pub/movie.mkv']);
});

test('single-file: a URL without trailing / is the file itself, whatever its name', () => {
  assert.deepEqual(webSeedFileUrls('https://mirror.example/pub/other-name.iso', single), [
    'https://mirror.example/pub/other-name.iso',
  ]);
});

test('single-file: a bare host is its root folder', () => {
  assert.deepEqual(webSeedFileUrls('http://mirror.example', single), ['http://mirror.example/movie.mkv']);
});

test('multi-file: name/ and the path segments follow the folder URL', () => {
  assert.deepEqual(webSeedFileUrls('http://mirror.example/pub/', multi), [
    'http://mirror.example/pub/album/cd1/track%2001.flac',
    'http://mirror.example/pub/album/cover.jpg',
  ]);
});

test('multi-file: a missing trailing / is tolerated', () => {
  assert.deepEqual(webSeedFileUrls('http://mirror.example/pub', multi), [
    'http://mirror.example/pub/album/cd1/track%2001.flac',
    'http://mirror.example/pub/album/cover.jpg',
  ]);
});

test('a query string of the entry is kept after the file path; a fragment is dropped', () => {
  assert.deepEqual(webSeedFileUrls('http://mirror.example/dl/?token=abc#frag', single), [
    'http://mirror.example/dl/movie.mkv?token=abc',
  ]);
});

test('segments with space, +, #, ?, % and non-ASCII are percent-encoded as UTF-8', () => {
  const meta = { multiFile: true, files: [file(['Ärger & Co', 'a b+c#d?e%f;g.txt']), file(['Ärger & Co', '日本語'])] };
  assert.deepEqual(webSeedFileUrls('http://m.example/x/', meta), [
    'http://m.example/x/%C3%84rger%20%26%20Co/a%20b%2Bc%23d%3Fe%25f%3Bg.txt',
    'http://m.example/x/%C3%84rger%20%26%20Co/%E6%97%A5%E6%9C%AC%E8%AA%9E',
  ]);
});

test('unreserved characters stay as they are', () => {
  assert.equal(encodePathSegment('Az09-._~'), 'Az09-._~');
  assert.equal(encodePathSegment("it's (1)!*"), 'it%27s%20%281%29%21%2A');
});

test('encoded segments use only unreserved characters and %XX, and decode back to the name', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', minLength: 1 }), (segment) => {
      const encoded = encodePathSegment(segment);
      assert.match(encoded, /^(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})+$/);
      assert.equal(decodeURIComponent(encoded), segment);
    }),
  );
});

test('the web seed list is deduplicated, keeps http and https, drops other schemes with a warning', () => {
  const { urls, warnings } = parseWebSeedList([
    'http://a.example/pub/',
    'https://b.example/files/',
    'http://a.example/pub/',
    'HTTP://A.EXAMPLE/pub/',
    'ftp://c.example/pub/',
    'not a url',
    'http://a.example/pub/#section',
  ]);
  assert.deepEqual(urls, ['http://a.example/pub/', 'https://b.example/files/']);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /ftp:\/\/c\.example.*only http and https/);
  assert.match(warnings[1], /"not a url".*not a valid URL/);
});
