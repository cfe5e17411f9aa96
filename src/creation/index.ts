/** Making .torrent files (BEP 3 metainfo, BEP 12 tiers, BEP 19 web seeds, BEP 27 private, BEP 47 padding). */
import { readFile } from 'node:fs/promises';
import { encode, type EncodableValue } from '../bencode/index.js';
import {
  MAX_PIECE_COUNT,
  MAX_PIECE_LENGTH,
  MAX_TOTAL_LENGTH,
  parseMetainfo,
  type Metainfo,
} from '../metainfo/index.js';
import { CreateTorrentError } from './errors.js';
import { hashPieces } from './hash-pool.js';
import type { HashSource } from './hash-job.js';
import { scanInput, type InputFile } from './scan.js';

export { CreateTorrentError } from './errors.js';

export interface CreateOptions {
  /** Tracker URLs, each its own BEP 12 tier (tried in order). Ignored when `tiers` is given. */
  announce?: string[];
  /** BEP 12 tiers: trackers within a tier are equivalent, tiers are tried in order. */
  tiers?: string[][];
  /** BEP 19 web seed URLs (`url-list`). */
  webSeeds?: string[];
  /** A power of two from 16 KiB to 256 MiB, or 'auto' (the default; see autoPieceLength). */
  pieceLength?: number | 'auto';
  /** BEP 27: peers only from the torrent's trackers (no DHT, PEX or local discovery). */
  private?: boolean;
  comment?: string;
  /** Defaults to "torrent.ts/<version>". */
  createdBy?: string;
  /** Leave out `creation date`, so the same input gives a byte-identical .torrent. */
  noDate?: boolean;
  /**
   * BEP 47: insert padding files (attr "p", path [".pad", "<size>"], like libtorrent) so every non-empty
   * file starts on a piece boundary. No padding follows the last file.
   */
  pad?: boolean;
  /** Include hidden files (leading ".") and OS junk (Thumbs.db, desktop.ini, .DS_Store). */
  includeHidden?: boolean;
  /**
   * Threads hashing, the calling one included: it hashes one read chunk (1 MiB) at a time between turns of
   * its event loop. Defaults to one per core, or just the calling thread below 32 MiB, where booting a
   * worker would take longer than the hashing.
   */
  threads?: number;
  /** Called as pieces are hashed; `totalBytes` includes padding. */
  onProgress?: (hashedBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

export interface CreatedTorrent {
  /** The .torrent file's bytes. */
  torrent: Uint8Array;
  /** `torrent` parsed back. */
  meta: Metainfo;
}

const MIN_PIECE_LENGTH = 16 * 1024;
const MAX_AUTO_PIECE_LENGTH = 16 * 1024 * 1024;
/** Auto piece length aims for at most this many pieces (and more than half of it). */
const TARGET_PIECE_COUNT = 2000;

/**
 * Piece length for `totalLength` bytes, in the spirit of libtorrent, mktorrent and qBittorrent: the smallest
 * power of two that gives at most 2000 pieces, clamped to 16 KiB..16 MiB. Unclamped, that is 1001-2000
 * pieces: few enough for a small .torrent and bitfield, enough for many peers to trade in parallel.
 * (700 MiB → 512 KiB pieces, 4 GiB → 4 MiB, above 31.25 GiB always 16 MiB.)
 */
export function autoPieceLength(totalLength: number): number {
  let pieceLength = MIN_PIECE_LENGTH;
  while (pieceLength < MAX_AUTO_PIECE_LENGTH && pieceLength * TARGET_PIECE_COUNT < totalLength) pieceLength *= 2;
  return pieceLength;
}

/**
 * Creates a torrent of the file or folder at `inputPath` (see scanInput for which files a folder
 * contributes, their order, and how symbolic links are followed). Hashing runs on every core (see
 * hashPieces), each thread streaming its own ranges of the files, so memory stays bounded for inputs of any
 * size.
 *
 * @throws CreateTorrentError for unusable input or options; the signal's reason when aborted.
 */
export async function createTorrent(inputPath: string, opts: CreateOptions = {}): Promise<CreatedTorrent> {
  opts.signal?.throwIfAborted();
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1)) {
    throw new CreateTorrentError(`threads must be a whole number of at least 1, not ${opts.threads}`);
  }
  const tiers = trackerTiers(opts);
  const webSeeds = (opts.webSeeds ?? []).map((u) => checkedUrl(u, 'web seed'));
  const input = await scanInput(inputPath, opts.includeHidden ?? false, opts.signal);
  if (input.files.length === 0) {
    throw new CreateTorrentError(
      `"${inputPath}" contains no files${opts.includeHidden ? '' : ' (hidden files are skipped unless included)'}`,
    );
  }
  const dataLength = input.files.reduce((sum, f) => sum + f.length, 0);
  if (dataLength === 0) throw new CreateTorrentError(`"${inputPath}" holds no data: every file is empty`);
  const pieceLength = choosePieceLength(opts.pieceLength ?? 'auto', dataLength);
  const layout = layOut(input.files, pieceLength, opts.pad === true && input.multiFile);
  checkLimits(layout.totalLength, pieceLength);

  const pieces = await hashPieces(layout.sources, pieceLength, layout.totalLength, {
    threads: opts.threads,
    onProgress: opts.onProgress,
    signal: opts.signal,
  });

  const info: Record<string, EncodableValue | undefined> = {
    name: input.name,
    'piece length': pieceLength,
    pieces,
    private: opts.private ? 1 : undefined,
  };
  if (input.multiFile) info.files = layout.entries;
  else info.length = dataLength;

  const urlCount = tiers.reduce((n, tier) => n + tier.length, 0);
  const root: Record<string, EncodableValue | undefined> = {
    announce: tiers[0]?.[0],
    'announce-list': urlCount > 1 ? tiers : undefined,
    comment: opts.comment,
    'created by': opts.createdBy ?? (await defaultCreatedBy()),
    'creation date': opts.noDate ? undefined : Math.floor(Date.now() / 1000),
    'url-list': webSeeds.length > 0 ? webSeeds : undefined,
    info,
  };
  const torrent = encode(root);
  return { torrent, meta: parseMetainfo(torrent) };
}

function trackerTiers(opts: CreateOptions): string[][] {
  const raw = opts.tiers ?? (opts.announce ?? []).map((url) => [url]);
  return raw.map((tier) => tier.map((url) => checkedUrl(url, 'tracker'))).filter((tier) => tier.length > 0);
}

function checkedUrl(url: string, what: string): string {
  const trimmed = url.trim();
  if (!URL.canParse(trimmed)) throw new CreateTorrentError(`invalid ${what} URL "${url}"`);
  return trimmed;
}

function choosePieceLength(requested: number | 'auto', dataLength: number): number {
  if (requested === 'auto') return autoPieceLength(dataLength);
  const powerOfTwo = Number.isSafeInteger(requested) && requested > 0 && (requested & (requested - 1)) === 0;
  if (!powerOfTwo || requested < MIN_PIECE_LENGTH || requested > MAX_PIECE_LENGTH) {
    throw new CreateTorrentError(
      `piece length ${requested} must be a power of two from ${MIN_PIECE_LENGTH} to ${MAX_PIECE_LENGTH} bytes`,
    );
  }
  return requested;
}

function checkLimits(totalLength: number, pieceLength: number): void {
  if (totalLength > MAX_TOTAL_LENGTH) {
    throw new CreateTorrentError(`input is ${totalLength} bytes; at most ${MAX_TOTAL_LENGTH} are supported`);
  }
  const pieceCount = Math.ceil(totalLength / pieceLength);
  if (pieceCount > MAX_PIECE_COUNT) {
    throw new CreateTorrentError(
      `pieces of ${pieceLength} bytes would make ${pieceCount} pieces, more than ${MAX_PIECE_COUNT}; ` +
        'choose a larger piece length',
    );
  }
}

interface Layout {
  /** The `files` list of a multi-file info dictionary. */
  entries: EncodableValue[];
  /** What the hash workers read, in torrent order; zero-length files left out. */
  sources: HashSource[];
  totalLength: number;
}

function layOut(files: InputFile[], pieceLength: number, pad: boolean): Layout {
  const entries: EncodableValue[] = [];
  const sources: HashSource[] = [];
  let offset = 0;
  for (const file of files) {
    const misaligned = offset % pieceLength;
    // Padding goes before each non-empty file that would start mid-piece (an empty file has no first
    // byte to align), which is also what libtorrent does without tail padding.
    if (pad && file.length > 0 && misaligned !== 0) {
      const size = pieceLength - misaligned;
      entries.push({ attr: 'p', length: size, path: ['.pad', String(size)] });
      sources.push({ path: null, offset, length: size });
      offset += size;
    }
    entries.push({ length: file.length, path: file.path });
    if (file.length > 0) sources.push({ path: file.absolutePath, offset, length: file.length });
    offset += file.length;
  }
  return { entries, sources, totalLength: offset };
}

let createdByDefault: string | undefined;

/** "torrent.ts/<version>", the version read from this package's package.json. */
async function defaultCreatedBy(): Promise<string> {
  if (createdByDefault === undefined) {
    createdByDefault = 'torrent.ts';
    try {
      // dist/src/creation/index.js → the package root.
      const pkg: unknown = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8'));
      const version = (pkg as { version?: unknown }).version;
      if (typeof version === 'string') createdByDefault = `torrent.ts/${version}`;
    } catch {
      // Without a readable package.json (bundled, vendored) the bare name still identifies us.
    }
  }
  return createdByDefault;
}
