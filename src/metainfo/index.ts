/** The .torrent codec: parsing and validating metainfo (BEP 3, 12, 19, 27, 47) and mapping pieces onto files. */
export type { Metainfo, TorrentFile } from './types.js';
export { MetainfoError, UnsafePathError } from './errors.js';
export { parseMetainfo, MAX_PIECE_COUNT, MAX_PIECE_LENGTH, MAX_TOTAL_LENGTH } from './parse.js';
export { unsafeSegmentReason } from './path-safety.js';
export { FileLayout, pieceHashAt, pieceLengthAt, type FileSpan } from './layout.js';
