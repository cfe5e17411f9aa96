/** torrent.ts: a BitTorrent client library. */
export { Client, ClientError, defaultStateDir, type ClientEvents, type ClientOptions } from './session/client.js';
export {
  Torrent,
  TorrentStoppedError,
  type TorrentEvents,
  type TorrentOptions,
  type TorrentState,
  type TorrentStats,
} from './session/torrent.js';
export { TorrentFileError, loadMetainfo, type TorrentSource } from './session/source.js';
export type { PeerAddress } from './session/peer-pool.js';
export { createTorrent, CreateTorrentError, autoPieceLength, type CreateOptions, type CreatedTorrent } from './creation/index.js';
export { parseMetainfo, MetainfoError, UnsafePathError, type Metainfo, type TorrentFile } from './metainfo/index.js';
export { BencodeError, decode as bdecode, encode as bencode } from './bencode/index.js';
export { StorageError } from './storage/index.js';
export type { LogFn, Logger } from './log/index.js';
