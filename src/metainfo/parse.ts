import { createHash } from 'node:crypto';
import {
  BencodeError,
  BencodeTypeError,
  bytesToText,
  decode,
  getBytes,
  getDict,
  getInt,
  getList,
  isDict,
  type BencodeDict,
  type BencodeValue,
  type DecodeResult,
} from '../bencode/index.js';
import { MetainfoError, UnsafePathError } from './errors.js';
import { unsafeSegmentReason } from './path-safety.js';
import type { Metainfo, TorrentFile } from './types.js';

/** Pieces larger than this are refused: peers and storage buffer whole pieces. */
export const MAX_PIECE_LENGTH = 256 * 1024 * 1024;
/** Upper bound on piece count, so a hostile torrent cannot make us allocate huge bitfields and tables. */
export const MAX_PIECE_COUNT = 1 << 22;
/** 1 PiB: beyond any real torrent, and well inside exact double-precision integers. */
export const MAX_TOTAL_LENGTH = 2 ** 50;

const HASH_LENGTH = 20;

/**
 * Parses a .torrent file (BEP 3) into a validated Metainfo.
 *
 * The info-hash is SHA-1 over the `info` dictionary's bytes exactly as they appear in `buf`, so torrents
 * written with unsorted keys still get the hash their creator and every other client computes.
 *
 * Inside `info` every field is checked strictly (it decides what gets written to disk). Fields outside
 * `info` (trackers, web seeds, comment, dates) are advisory: entries of the wrong type are skipped, as
 * other clients do, rather than refusing an otherwise usable torrent.
 *
 * @throws MetainfoError (or its subclass UnsafePathError) for anything malformed, unsafe or over limits.
 */
export function parseMetainfo(buf: Uint8Array): Metainfo {
  let decoded: DecodeResult;
  try {
    decoded = decode(buf);
  } catch (err) {
    if (err instanceof BencodeError) throw MetainfoError.fromBencode(err);
    throw err;
  }
  const root = decoded.value;
  if (!isDict(root)) throw new MetainfoError('not a torrent file: the top level is not a dictionary');
  const info = field('', () => getDict(root, 'info'));
  if (info === undefined) throw new MetainfoError('not a torrent file: no "info" dictionary');

  const span = decoded.spanOf(info);
  if (span === undefined) throw new Error('bencode decoder lost the span of "info"');
  // A copy, so the caller may reuse `buf` and we do not pin a larger buffer than needed.
  const infoBytes = new Uint8Array(span.end - span.start);
  infoBytes.set(buf.subarray(span.start, span.end));
  const infoHash = new Uint8Array(createHash('sha1').update(infoBytes).digest());

  const body = parseInfo(info);
  const piecesSpan = decoded.spanOf(body.pieces);
  if (piecesSpan === undefined) throw new Error('bencode decoder lost the span of "pieces"');
  const piecesStart = piecesSpan.end - body.pieces.length - span.start;

  const meta: Metainfo = {
    infoHash,
    infoHashHex: Buffer.from(infoHash).toString('hex'),
    infoBytes,
    name: body.name,
    pieceLength: body.pieceLength,
    pieceCount: body.pieceCount,
    totalLength: body.totalLength,
    pieceHashes: infoBytes.subarray(piecesStart, piecesStart + body.pieces.length),
    multiFile: body.multiFile,
    files: body.files,
    private: body.private,
    announceTiers: announceTiers(root),
    webSeeds: webSeeds(root),
  };
  const comment = optionalText(root, 'comment');
  if (comment !== undefined) meta.comment = comment;
  const createdBy = optionalText(root, 'created by');
  if (createdBy !== undefined) meta.createdBy = createdBy;
  const creationDate = optionalDate(root, 'creation date');
  if (creationDate !== undefined) meta.creationDate = creationDate;
  return meta;
}

interface InfoBody {
  name: string;
  pieceLength: number;
  pieceCount: number;
  totalLength: number;
  pieces: Uint8Array;
  multiFile: boolean;
  files: TorrentFile[];
  private: boolean;
}

function parseInfo(info: BencodeDict): InfoBody {
  const pieces = field('info', () => getBytes(info, 'pieces'));
  if (pieces === undefined) {
    if (info.get('meta version') === 2) {
      throw new MetainfoError('BitTorrent v2-only torrents (BEP 52) are not supported: no "pieces" in info');
    }
    throw new MetainfoError('invalid torrent: info has no "pieces"');
  }

  const name = preferUtf8Text(info, 'name', 'info');
  if (name === undefined) throw new MetainfoError('invalid torrent: info has no "name"');
  checkSegments([name]);

  const pieceLength = field('info', () => getInt(info, 'piece length'));
  if (pieceLength === undefined) throw new MetainfoError('invalid torrent: info has no "piece length"');
  if (pieceLength <= 0) throw new MetainfoError(`invalid torrent: piece length ${pieceLength} is not positive`);
  if (pieceLength > MAX_PIECE_LENGTH) {
    throw new MetainfoError(`piece length ${pieceLength} is larger than the supported ${MAX_PIECE_LENGTH} bytes`);
  }

  const hasLength = info.has('length');
  const hasFiles = info.has('files');
  if (hasLength === hasFiles) {
    throw new MetainfoError(
      hasLength
        ? 'invalid torrent: info has both "length" and "files"'
        : 'invalid torrent: info has neither "length" (single file) nor "files" (multi-file)',
    );
  }
  const files = hasLength ? singleFile(info, name) : multiFile(info, name);
  const last = files[files.length - 1];
  const totalLength = last.offset + last.length;
  if (totalLength === 0) throw new MetainfoError('invalid torrent: it holds no data (total length is 0)');

  const pieceCount = Math.ceil(totalLength / pieceLength);
  if (pieceCount > MAX_PIECE_COUNT) {
    throw new MetainfoError(
      `torrent has ${pieceCount} pieces (${totalLength} bytes in pieces of ${pieceLength}); ` +
        `more than the supported ${MAX_PIECE_COUNT}`,
    );
  }
  if (pieces.length % HASH_LENGTH !== 0) {
    throw new MetainfoError(`invalid torrent: "pieces" is ${pieces.length} bytes, not a multiple of 20`);
  }
  if (pieces.length !== pieceCount * HASH_LENGTH) {
    throw new MetainfoError(
      `invalid torrent: "pieces" holds ${pieces.length / HASH_LENGTH} hashes but ${totalLength} bytes ` +
        `in pieces of ${pieceLength} need ${pieceCount}`,
    );
  }

  return {
    name,
    pieceLength,
    pieceCount,
    totalLength,
    pieces,
    multiFile: hasFiles,
    files,
    // BEP 27: only private=1 marks a private torrent.
    private: info.get('private') === 1,
  };
}

function singleFile(info: BencodeDict, name: string): TorrentFile[] {
  const length = checkedLength(field('info', () => getInt(info, 'length')), 'info "length"');
  return [{ path: [name], length, offset: 0, padding: false }];
}

function multiFile(info: BencodeDict, name: string): TorrentFile[] {
  const entries = field('info', () => getList(info, 'files')) ?? [];
  if (entries.length === 0) throw new MetainfoError('invalid torrent: info "files" is empty');
  const files: TorrentFile[] = [];
  const seen = new PathClaims();
  let offset = 0;
  for (let i = 0; i < entries.length; i++) {
    const where = `info.files[${i}]`;
    const entry = entries[i];
    if (!isDict(entry)) throw new MetainfoError(`invalid torrent: ${where} is not a dictionary`);
    const length = checkedLength(field(where, () => getInt(entry, 'length')), `${where} "length"`);
    const path = filePath(entry, where);
    checkSegments([name, ...path]);
    // BEP 47: attr 'p' marks a padding file (zeros, never written to disk).
    const attr = entry.get('attr');
    const padding = attr instanceof Uint8Array && attr.includes(0x70);
    if (!padding) seen.claim([name, ...path]);
    files.push({ path: [name, ...path], length, offset, padding });
    offset += length;
    if (offset > MAX_TOTAL_LENGTH) {
      throw new MetainfoError(`torrent is larger than the supported ${MAX_TOTAL_LENGTH} bytes`);
    }
  }
  return files;
}

function checkedLength(length: number | undefined, what: string): number {
  if (length === undefined) throw new MetainfoError(`invalid torrent: ${what} is missing`);
  if (length < 0) throw new MetainfoError(`invalid torrent: ${what} is negative (${length})`);
  if (length > MAX_TOTAL_LENGTH) {
    throw new MetainfoError(`torrent is larger than the supported ${MAX_TOTAL_LENGTH} bytes`);
  }
  return length;
}

/** A file's `path` list, preferring `path.utf-8` when present (some creators write legacy code pages in `path`). */
function filePath(entry: BencodeDict, where: string): string[] {
  const utf8 = entry.get('path.utf-8');
  const raw = Array.isArray(utf8) && utf8.length > 0 ? utf8 : field(where, () => getList(entry, 'path'));
  if (raw === undefined) throw new MetainfoError(`invalid torrent: ${where} has no "path"`);
  if (raw.length === 0) throw new MetainfoError(`invalid torrent: ${where} has an empty "path"`);
  return raw.map((segment, j) => {
    if (!(segment instanceof Uint8Array)) {
      throw new MetainfoError(`invalid torrent: ${where} "path" element ${j} is not a byte string`);
    }
    return bytesToText(segment);
  });
}

function checkSegments(path: string[]): void {
  for (const segment of path) {
    const reason = unsafeSegmentReason(segment);
    if (reason !== undefined) throw new UnsafePathError(path.join('/'), reason);
  }
}

/**
 * Refuses two files claiming the same path, or a file whose path is also another file's folder: storage
 * would either overwrite one with the other or fail half way through.
 */
class PathClaims {
  private readonly files = new Set<string>();
  private readonly folders = new Set<string>();

  claim(path: string[]): void {
    const joined = path.join('/');
    if (this.files.has(joined)) throw new UnsafePathError(joined, 'two files have this path');
    if (this.folders.has(joined)) throw new UnsafePathError(joined, 'the path is both a file and a folder');
    let prefix = path[0];
    for (let i = 1; i < path.length; i++) {
      if (this.files.has(prefix)) throw new UnsafePathError(joined, `"${prefix}" is both a file and a folder`);
      this.folders.add(prefix);
      prefix += `/${path[i]}`;
    }
    this.files.add(joined);
  }
}

/** `<key>.utf-8` when it is a byte string, else `<key>`; decoded as UTF-8. */
function preferUtf8Text(d: BencodeDict, key: string, where: string): string | undefined {
  const utf8 = d.get(`${key}.utf-8`);
  if (utf8 instanceof Uint8Array) return bytesToText(utf8);
  const raw = field(where, () => getBytes(d, key));
  return raw === undefined ? undefined : bytesToText(raw);
}

/** Runs a typed accessor, turning its type error into a MetainfoError that says where. */
function field<T>(where: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof BencodeTypeError) {
      throw new MetainfoError(`invalid torrent: ${where ? `${where} ` : ''}${err.message}`, { cause: err });
    }
    throw err;
  }
}

/* Advisory fields outside `info`: wrong types are skipped. */

function urlText(v: BencodeValue | undefined): string | undefined {
  if (!(v instanceof Uint8Array)) return undefined;
  const url = bytesToText(v).trim();
  return url.length > 0 ? url : undefined;
}

/** BEP 12: `announce-list` (a list of tiers) wins over `announce` when it names any tracker. */
function announceTiers(root: BencodeDict): string[][] {
  const seen = new Set<string>();
  const tiers: string[][] = [];
  const list = root.get('announce-list');
  if (Array.isArray(list)) {
    for (const rawTier of list) {
      if (!Array.isArray(rawTier)) continue;
      const tier: string[] = [];
      for (const entry of rawTier) {
        const url = urlText(entry);
        if (url === undefined || seen.has(url)) continue;
        seen.add(url);
        tier.push(url);
      }
      if (tier.length > 0) tiers.push(tier);
    }
  }
  if (tiers.length > 0) return tiers;
  const announce = urlText(root.get('announce'));
  return announce === undefined ? [] : [[announce]];
}

/** BEP 19: `url-list` is either one URL or a list of them. */
function webSeeds(root: BencodeDict): string[] {
  const raw = root.get('url-list');
  const entries = Array.isArray(raw) ? raw : [raw];
  const seeds: string[] = [];
  for (const entry of entries) {
    const url = urlText(entry);
    if (url !== undefined && !seeds.includes(url)) seeds.push(url);
  }
  return seeds;
}

function optionalText(root: BencodeDict, key: string): string | undefined {
  const utf8 = root.get(`${key}.utf-8`);
  const v = utf8 instanceof Uint8Array ? utf8 : root.get(key);
  return v instanceof Uint8Array ? bytesToText(v) : undefined;
}

function optionalDate(root: BencodeDict, key: string): Date | undefined {
  const seconds = root.get(key);
  if (typeof seconds !== 'number') return undefined;
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
