/**
 * WebTorrent (as a library) downloading one torrent from one peer, for bench/download.ts:
 *
 *   node dist/bench/support/webtorrent-download.js <file.torrent> <dir> <host:port>
 *
 * DHT, local peer discovery, trackers, web seeds and uTP are off, so the named peer is the only source.
 * Exits 0 once every piece is verified and the files are closed; 1 on an error.
 */
import { readFile } from 'node:fs/promises';

/** The slice of WebTorrent 1.x's API used here (it ships no types). */
interface WebTorrentTorrent {
  on(event: 'error', listener: (error: Error | string) => void): void;
  on(event: 'ready' | 'done', listener: () => void): void;
  addPeer(peer: string): boolean;
}
interface WebTorrentClient {
  on(event: 'error', listener: (error: Error | string) => void): void;
  add(torrent: Buffer, options: { path: string; announce: string[] }): WebTorrentTorrent;
  destroy(callback: (error?: Error) => void): void;
}
type WebTorrentConstructor = new (options: Record<string, unknown>) => WebTorrentClient;

/** The package name in a variable, so tsc does not need it installed (it is an optional dev dependency). */
const WEBTORRENT_PACKAGE = 'webtorrent';

const [torrentPath, dir, peer] = process.argv.slice(2);
if (peer === undefined) {
  process.stderr.write('usage: webtorrent-download.js <file.torrent> <dir> <host:port>\n');
  process.exit(2);
}

const fail = (error: Error | string) => {
  process.stderr.write(`webtorrent: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
};

const { default: WebTorrent } = (await import(WEBTORRENT_PACKAGE)) as { default: WebTorrentConstructor };
const client = new WebTorrent({
  dht: false,
  lsd: false,
  tracker: false,
  webSeeds: false,
  utp: false,
  // WebTorrent 1.x has no UPnP/NAT-PMP; 2.x reads these.
  natUpnp: false,
  natPmp: false,
});
client.on('error', fail);
const torrent = client.add(await readFile(torrentPath), { path: dir, announce: [] });
torrent.on('error', fail);
torrent.on('ready', () => torrent.addPeer(peer));
torrent.on('done', () => client.destroy((error) => (error ? fail(error) : process.exit(0))));
