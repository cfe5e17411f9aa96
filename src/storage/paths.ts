/** Where a torrent's files go on disk. Storage re-checks paths itself: it never trusts the metainfo parser. */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { Metainfo } from '../metainfo/types.js';
import { StoragePathError } from './errors.js';

/**
 * Absolute path of every non-padding file under `root` ('' for padding files). Throws StoragePathError for a
 * path that resolves outside `root` (or onto it), an empty or NUL-containing segment, or two files colliding.
 */
export function resolveFilePaths(meta: Metainfo, root: string): string[] {
  const seen = new Set<string>();
  return meta.files.map((file, i) => {
    if (file.padding) return '';
    const shown = file.path.join('/');
    if (file.path.length === 0 || file.path.some((seg) => typeof seg !== 'string' || seg === '' || seg.includes('\0'))) {
      throw new StoragePathError(`file ${i} has an empty or invalid path "${shown}"; refusing to store it`);
    }
    const full = resolve(root, ...file.path);
    const rel = relative(root, full);
    if (rel === '' || isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) {
      throw new StoragePathError(`file path "${shown}" leads outside the download folder ${root}; refusing to store it`, full);
    }
    if (seen.has(full)) throw new StoragePathError(`two files of the torrent map to the same path ${full}`, full);
    seen.add(full);
    return full;
  });
}
