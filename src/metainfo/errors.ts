import { BencodeError } from '../bencode/index.js';

/** A .torrent file that cannot be used: malformed bencode, missing or invalid fields, or limits exceeded. */
export class MetainfoError extends Error {
  override name = 'MetainfoError';
  /** Byte offset in the .torrent file, when the problem is malformed bencode. */
  readonly offset?: number;

  constructor(message: string, options: { offset?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.offset !== undefined) this.offset = options.offset;
  }

  static fromBencode(err: BencodeError): MetainfoError {
    // BencodeError's message already ends in " at byte N"; put the offset up front instead.
    const suffix = ` at byte ${err.offset}`;
    const detail = err.message.endsWith(suffix) ? err.message.slice(0, -suffix.length) : err.message;
    return new MetainfoError(`malformed torrent at byte ${err.offset}: ${detail}`, { offset: err.offset, cause: err });
  }
}

/**
 * A torrent naming a file path that could escape the download folder or clash on some file system
 * (`..`, absolute paths, separators inside a segment, drive letters). Such torrents are refused outright
 * rather than "sanitised", because a rewritten path silently changes where data goes.
 */
export class UnsafePathError extends MetainfoError {
  override name = 'UnsafePathError';

  constructor(
    /** The offending path as written in the torrent, segments joined with "/". */
    readonly path: string,
    reason: string,
  ) {
    super(`unsafe path "${path}" in torrent: ${reason}`);
  }
}
