/** Where a torrent comes from: a .torrent path, its bytes, or an already parsed Metainfo. */
import { readFile } from 'node:fs/promises';
import { parseMetainfo, type Metainfo } from '../metainfo/index.js';

export type TorrentSource = string | Uint8Array | Metainfo;

export class TorrentFileError extends Error {
  override name = 'InputError';
}

/** Reads and parses a torrent; a missing or unreadable file is a TorrentFileError naming the path. */
export async function loadMetainfo(source: TorrentSource): Promise<Metainfo> {
  if (typeof source === 'string') {
    // Fetching a torrent's info dictionary from peers (BEP 9) is not built yet.
    if (/^magnet:/i.test(source)) {
      throw new TorrentFileError('magnet links are not supported yet: download the .torrent file and give its path');
    }
    let bytes: Uint8Array;
    try {
      bytes = await readFile(source);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a folder' : `cannot be read (${code})`;
      throw new TorrentFileError(`torrent file ${source} ${why}`, { cause: err });
    }
    return parseMetainfo(bytes);
  }
  if (source instanceof Uint8Array) return parseMetainfo(source);
  return source;
}
