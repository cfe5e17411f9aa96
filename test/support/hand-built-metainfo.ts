/**
 * A Metainfo built directly from files and their data, for tests of layers that must not depend on the
 * .torrent parser (storage, web seeds). The info-hash is derived from `identity`, not from an info dict.
 */
import { createHash } from 'node:crypto';
import type { Metainfo, TorrentFile } from '../../src/metainfo/types.js';

const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest();

export function handBuiltMetainfo(
  name: string,
  multiFile: boolean,
  files: TorrentFile[],
  data: Uint8Array,
  pieceLength: number,
  identity = `${name}:${data.length}`,
): Metainfo {
  const pieceCount = Math.ceil(data.length / pieceLength);
  const pieceHashes = Buffer.concat(
    Array.from({ length: pieceCount }, (_, i) => sha1(data.subarray(i * pieceLength, (i + 1) * pieceLength))),
  );
  const infoHash = sha1(Buffer.from(identity));
  return {
    infoHash,
    infoHashHex: infoHash.toString('hex'),
    infoBytes: new Uint8Array(0),
    name,
    pieceLength,
    pieceCount,
    totalLength: data.length,
    pieceHashes,
    multiFile,
    files,
    private: false,
    announceTiers: [],
    webSeeds: [],
  };
}
