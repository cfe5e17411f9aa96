/**
 * BEP 19 ("GetRight" style) web seed URL rules: how a `url-list` entry names each file of a torrent.
 *
 *   entry ends in '/'           single-file: <entry><name>       multi-file: <entry><name>/<path...>
 *   entry without trailing '/'  single-file: the entry is the file itself
 *                               multi-file:  treated as if it ended in '/' (BEP 19 requires the slash, but
 *                                            real torrents omit it and other clients tolerate that)
 *
 * Every path segment is percent-encoded from its UTF-8 bytes; only RFC 3986 unreserved characters stay as-is,
 * so names with spaces, '+', '#', '?', '%' or non-ASCII letters reach the server as the exact file name.
 */
import type { Metainfo } from '../metainfo/types.js';

export interface WebSeedList {
  /** Distinct usable http(s) URLs in their original order, normalised by the WHATWG URL parser. */
  urls: string[];
  /** One line per dropped entry, for the progress output. */
  warnings: string[];
}

/** Dedupe a torrent's `url-list` and drop entries that are not http(s) URLs (ftp, relative, garbage). */
export function parseWebSeedList(entries: readonly string[]): WebSeedList {
  const urls: string[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      warnings.push(`ignoring web seed ${JSON.stringify(entry)}: not a valid URL`);
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      warnings.push(`ignoring web seed ${entry}: only http and https are supported, not ${url.protocol.slice(0, -1)}`);
      continue;
    }
    // A fragment is never sent to the server, so it cannot address a file.
    url.hash = '';
    const normalised = url.href;
    if (seen.has(normalised)) continue;
    seen.add(normalised);
    urls.push(normalised);
  }
  return { urls, warnings };
}

/** The URL of every file of the torrent on one web seed, in `meta.files` order (padding files included). */
export function webSeedFileUrls(seedUrl: string, meta: Pick<Metainfo, 'multiFile' | 'files'>): string[] {
  const base = new URL(seedUrl);
  base.hash = '';
  const isFolder = base.pathname.endsWith('/');
  if (!meta.multiFile && !isFolder) return meta.files.map(() => base.href);
  const folder = isFolder ? base.pathname : `${base.pathname}/`;
  return meta.files.map((file) => {
    const url = new URL(base.href);
    // `file.path` already starts with the torrent name for multi-file torrents and is [name] for single-file.
    url.pathname = folder + file.path.map(encodePathSegment).join('/');
    return url.href;
  });
}

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) ||
    (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x2d ||
    byte === 0x2e ||
    byte === 0x5f ||
    byte === 0x7e
  );
}

/** Percent-encode one path segment from its UTF-8 bytes, keeping only unreserved characters. */
export function encodePathSegment(segment: string): string {
  let out = '';
  for (const byte of Buffer.from(segment, 'utf8')) {
    out += isUnreserved(byte) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
