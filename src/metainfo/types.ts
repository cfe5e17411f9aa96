/** The parsed form of a .torrent file (BEP 3, with BEP 12 tiers, BEP 19 web seeds, BEP 27 private, BEP 47 padding). */

export interface TorrentFile {
  /** Path segments below the torrent's root folder; validated safe (no "..", no separators, none empty). */
  path: string[];
  length: number;
  /** Offset of the file's first byte in the torrent's concatenated data. */
  offset: number;
  /** BEP 47 padding file: never written to disk, hashed as zeros. */
  padding: boolean;
}

export interface Metainfo {
  /** SHA-1 of the raw bencoded `info` dictionary exactly as it appears in the file. */
  infoHash: Uint8Array;
  infoHashHex: string;
  /** The raw `info` dictionary bytes (served to peers for BEP 9 later). */
  infoBytes: Uint8Array;
  /** Safe name of the root folder (multi-file) or the single file. */
  name: string;
  pieceLength: number;
  pieceCount: number;
  totalLength: number;
  /** Concatenated 20-byte SHA-1 hashes, one per piece. */
  pieceHashes: Uint8Array;
  /** Multi-file torrents store files under `name/`; a single-file torrent's one file has path [name]. */
  multiFile: boolean;
  /**
   * Files in torrent order. Paths are relative to the download folder: for a multi-file torrent the first
   * segment is `name`, for a single-file torrent the path is just [name].
   */
  files: TorrentFile[];
  private: boolean;
  /** BEP 12 tiers; a plain `announce` becomes a single tier. */
  announceTiers: string[][];
  /** BEP 19 `url-list`. */
  webSeeds: string[];
  comment?: string;
  createdBy?: string;
  creationDate?: Date;
}
