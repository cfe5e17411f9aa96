import type { Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { unsafeSegmentReason } from '../metainfo/index.js';
import { CreateTorrentError } from './errors.js';

export interface InputFile {
  absolutePath: string;
  /** Segments below the torrent's root folder; empty for a single-file torrent. */
  path: string[];
  length: number;
}

export interface InputTree {
  /** The torrent's `name`: the base name of the input file or folder. */
  name: string;
  multiFile: boolean;
  /** In torrent order. */
  files: InputFile[];
}

/** Files that operating systems drop into folders by themselves; nobody means to share them. */
const OS_JUNK = new Set(['thumbs.db', 'desktop.ini', '.ds_store']);

function isSkipped(name: string): boolean {
  return name.startsWith('.') || OS_JUNK.has(name.toLowerCase());
}

/**
 * Lists what a torrent made from `inputPath` contains. A file gives a single-file torrent; a folder gives
 * a multi-file torrent of every regular file below it.
 *
 * - Order: files are sorted by their path bytes ("a/b" as UTF-8, compared bytewise), as mktorrent does, so
 *   the same folder gives the same info-hash as mktorrent.
 * - Hidden entries (leading ".") and OS junk (Thumbs.db, desktop.ini, .DS_Store) are skipped, folders
 *   included, unless `includeHidden`.
 * - Symbolic links are followed, to files and to folders. A link back to a folder that is already being
 *   walked (a loop) is skipped, as is a dangling link. Sockets, FIFOs and devices are skipped.
 */
export async function scanInput(inputPath: string, includeHidden: boolean, signal?: AbortSignal): Promise<InputTree> {
  const root = resolve(inputPath);
  const name = basename(root);
  const nameProblem = unsafeSegmentReason(name);
  if (nameProblem !== undefined) {
    throw new CreateTorrentError(`cannot use "${inputPath}" as the torrent's name: ${nameProblem}`);
  }
  const rootStat = await statInput(root);
  if (rootStat.isFile()) {
    return { name, multiFile: false, files: [{ absolutePath: root, path: [], length: rootStat.size }] };
  }
  if (!rootStat.isDirectory()) throw new CreateTorrentError(`"${inputPath}" is neither a file nor a folder`);

  const files: InputFile[] = [];
  await walk(root, [], new Set([folderKey(rootStat)]), files, includeHidden, signal);
  const keyed = files.map((file) => ({ file, key: Buffer.from(file.path.join('/'), 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return { name, multiFile: true, files: keyed.map((k) => k.file) };
}

async function statInput(path: string): Promise<Stats> {
  try {
    return await stat(path);
  } catch (err) {
    throw new CreateTorrentError(`cannot read "${path}": ${(err as Error).message}`, { cause: err });
  }
}

function folderKey(s: Stats): string {
  return `${s.dev}:${s.ino}`;
}

async function walk(
  folder: string,
  relative: string[],
  ancestors: Set<string>,
  out: InputFile[],
  includeHidden: boolean,
  signal: AbortSignal | undefined,
): Promise<void> {
  signal?.throwIfAborted();
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (err) {
    throw new CreateTorrentError(`cannot list "${folder}": ${(err as Error).message}`, { cause: err });
  }
  for (const entry of entries) {
    if (!includeHidden && isSkipped(entry.name)) continue;
    const absolutePath = join(folder, entry.name);
    const path = [...relative, entry.name];
    let info: Stats;
    try {
      info = await stat(absolutePath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (entry.isSymbolicLink() && (code === 'ENOENT' || code === 'ELOOP')) continue;
      throw new CreateTorrentError(`cannot read "${absolutePath}": ${(err as Error).message}`, { cause: err });
    }
    if (!info.isFile() && !info.isDirectory()) continue;
    const problem = unsafeSegmentReason(entry.name);
    if (problem !== undefined) {
      throw new CreateTorrentError(`cannot add "${absolutePath}": ${problem}; rename it first`);
    }
    if (info.isFile()) {
      out.push({ absolutePath, path, length: info.size });
      continue;
    }
    const key = folderKey(info);
    if (ancestors.has(key)) continue;
    await walk(absolutePath, path, new Set([...ancestors, key]), out, includeHidden, signal);
  }
}
