/** Mapping a byte range of the torrent's concatenated data onto the files that hold it. */
import type { TorrentFile } from '../metainfo/types.js';

export interface FileSpan {
  /** Index in the torrent's file list. */
  fileIndex: number;
  /** First byte of the span within the file. */
  fileStart: number;
  length: number;
  /** Where the span's bytes go in a buffer holding the whole requested range. */
  rangeOffset: number;
}

/**
 * The non-empty pieces of [offset, offset + length) per file, in order. Zero-length files never appear.
 * Files must be in torrent order with `offset` set (as Metainfo guarantees).
 */
export function fileSpans(files: readonly TorrentFile[], offset: number, length: number): FileSpan[] {
  const spans: FileSpan[] = [];
  const end = offset + length;
  // Binary search for the first file ending after `offset`; torrents can have many thousands of files.
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (files[mid].offset + files[mid].length <= offset) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < files.length && files[i].offset < end; i++) {
    const file = files[i];
    const start = Math.max(offset, file.offset);
    const stop = Math.min(end, file.offset + file.length);
    if (stop <= start) continue;
    spans.push({ fileIndex: i, fileStart: start - file.offset, length: stop - start, rangeOffset: start - offset });
  }
  return spans;
}
