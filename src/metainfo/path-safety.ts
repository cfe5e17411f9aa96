/**
 * Rules for path segments (the torrent name and each element of a file's `path` list, BEP 3). A torrent is
 * data from strangers: a segment must never climb out of the download folder or smuggle a separator.
 */

const DRIVE_LETTER = /^[A-Za-z]:/;

/** Why `segment` is unsafe as one path component, or undefined when it is safe. */
export function unsafeSegmentReason(segment: string): string | undefined {
  if (segment.length === 0) return 'empty path segment';
  if (segment === '.' || segment === '..') return `path segment "${segment}" refers to a directory, not a name`;
  if (segment.includes('/')) return 'path segment contains "/"';
  if (segment.includes('\\')) return 'path segment contains "\\"';
  if (segment.includes('\0')) return 'path segment contains a NUL byte';
  if (DRIVE_LETTER.test(segment)) return 'path segment starts with a drive letter';
  return undefined;
}
