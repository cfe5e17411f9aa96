/**
 * Resume data: which pieces were verified, plus each file's size and mtime when that was recorded, so a
 * restart re-hashes only the files that changed since. Kept outside the download folder, at
 *
 *   <stateDir>/resume/<info-hash hex>-<short hash of the absolute download folder>.resume
 *
 * as a bencoded dictionary { info-hash, pieces (BEP 3 bitfield bytes), files: [[size, mtimeMs], ...] for each
 * non-padding file in torrent order (size -1 for a missing file), saved-at (ms since the epoch) }.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { decode, encode, getBytes, getList, isDict } from '../bencode/index.js';
import { Bitfield } from '../bitfield/index.js';
import type { Metainfo } from '../metainfo/types.js';
import { toStorageError } from './errors.js';
import type { CheckOptions, TorrentStorage } from './index.js';
import { PieceLayout } from './layout.js';
import { resolveFilePaths } from './paths.js';

export interface ResumeData {
  /** Pieces verified earlier whose files have not changed since: no need to hash them again. */
  trusted: Bitfield;
  /** Pieces touching files that changed (size or mtime) since the save: hash these, in order. */
  recheck: number[];
}

/** Size and whole-millisecond mtime of a file; size -1 when it does not exist. */
type FileStamp = [size: number, mtimeMs: number];

const STAT_CONCURRENCY = 32;

export function resumeFilePath(stateDir: string, meta: Metainfo, dir: string): string {
  const dirHash = createHash('sha1').update(resolve(dir)).digest('hex').slice(0, 12);
  return join(stateDir, 'resume', `${meta.infoHashHex}-${dirHash}.resume`);
}

/**
 * Saves resume data atomically (temp file, fsync, rename). Pass only verified pieces whose writes completed;
 * files are stamped before `have` is copied, so a piece verified meanwhile is either left out (fetched or
 * checked again) or its file's new mtime sends it to recheck. Throws StorageError if the state folder is
 * not writable.
 */
export async function saveResume(stateDir: string, meta: Metainfo, dir: string, have: Bitfield): Promise<void> {
  if (have.length !== meta.pieceCount) throw new RangeError(`bitfield of ${have.length} pieces for a torrent of ${meta.pieceCount}`);
  const files = await stampFiles(meta, dir);
  const doc = encode({
    'info-hash': meta.infoHash,
    pieces: Uint8Array.from(have.bytes),
    files: files.map(([size, mtime]) => [size, mtime]),
    'saved-at': Date.now(),
  });
  const target = resumeFilePath(stateDir, meta, dir);
  const temp = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dirname(target), { recursive: true });
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(doc);
      // Data reaches the disk before the rename makes it visible: a crash leaves the old file or the new one.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw toStorageError(err, 'writing', target);
  }
}

/**
 * Reads resume data and compares each file with its recorded size and mtime. Undefined when there is no
 * usable resume file (missing, corrupt, truncated, or for another torrent): the caller rechecks everything.
 */
export async function loadResume(stateDir: string, meta: Metainfo, dir: string): Promise<ResumeData | undefined> {
  let raw: Buffer;
  try {
    raw = await readFile(resumeFilePath(stateDir, meta, dir));
  } catch {
    return undefined;
  }
  const saved = parseResume(raw, meta);
  if (!saved) return undefined;
  const layout = new PieceLayout(meta);
  const current = await stampFiles(meta, dir);
  const diskFiles = meta.files.flatMap((file, index) => (file.padding ? [] : [{ file, index }]));

  const changed = new Bitfield(meta.pieceCount);
  const sizeByFile = new Map<number, number>();
  diskFiles.forEach(({ index }, k) => {
    const [size, mtime] = current[k];
    sizeByFile.set(index, size);
    if (size === saved.files[k][0] && mtime === saved.files[k][1]) return;
    const range = layout.piecesOfFile(index);
    if (range) for (let p = range.first; p <= range.last; p++) changed.set(p);
  });

  const trusted = new Bitfield(meta.pieceCount);
  const recheck: number[] = [];
  for (let p = 0; p < meta.pieceCount; p++) {
    if (changed.has(p)) recheck.push(p);
    else if (saved.pieces.has(p)) {
      // An unchanged file too short for a piece recorded as had means the record is wrong: look again.
      const fits = layout.pieceSpans(p).every((s) => layout.isPadding(s) || (sizeByFile.get(s.fileIndex) ?? -1) >= s.fileOffset + s.length);
      if (fits) trusted.set(p);
      else recheck.push(p);
    }
  }
  return { trusted, recheck };
}

/**
 * The pieces that are good on disk: resume data where it can be trusted, hashing for the rest (everything
 * when there is no usable resume file).
 */
export async function restoreState(
  storage: TorrentStorage,
  stateDir: string,
  onProgress?: CheckOptions['onProgress'],
  signal?: AbortSignal,
): Promise<Bitfield> {
  const resume = await loadResume(stateDir, storage.meta, storage.dir);
  if (!resume) return storage.checkExisting({ onProgress, signal });
  const have = await storage.checkExisting({ pieces: resume.recheck, onProgress, signal });
  for (const p of resume.trusted.indices()) have.set(p);
  return have;
}

/** Decodes and validates a resume file against the torrent; undefined if anything is off. */
function parseResume(raw: Uint8Array, meta: Metainfo): { pieces: Bitfield; files: FileStamp[] } | undefined {
  try {
    const doc = decode(raw).value;
    if (!isDict(doc)) return undefined;
    const infoHash = getBytes(doc, 'info-hash');
    const pieceBytes = getBytes(doc, 'pieces');
    const fileList = getList(doc, 'files');
    if (!infoHash || !pieceBytes || !fileList) return undefined;
    if (!Buffer.from(infoHash).equals(meta.infoHash)) return undefined;
    const pieces = new Bitfield(meta.pieceCount, pieceBytes); // throws on wrong length or spare bits
    const expectedFiles = meta.files.filter((f) => !f.padding).length;
    if (fileList.length !== expectedFiles) return undefined;
    const files: FileStamp[] = [];
    for (const entry of fileList) {
      if (!Array.isArray(entry) || entry.length !== 2) return undefined;
      const [size, mtime] = entry;
      if (typeof size !== 'number' || typeof mtime !== 'number') return undefined;
      files.push([size, mtime]);
    }
    return { pieces, files };
  } catch {
    return undefined;
  }
}

/** Stamps of the non-padding files, in torrent order. */
async function stampFiles(meta: Metainfo, dir: string): Promise<FileStamp[]> {
  const paths = resolveFilePaths(meta, resolve(dir)).filter((_, i) => !meta.files[i].padding);
  const stamps: FileStamp[] = new Array(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      try {
        const st = await stat(paths[i]);
        stamps[i] = st.isFile() ? [st.size, Math.floor(st.mtimeMs)] : [-1, 0];
      } catch {
        stamps[i] = [-1, 0];
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(STAT_CONCURRENCY, paths.length) }, worker));
  return stamps;
}
